/** The command table: every CLI command is one row. Help, parsing and error handling derive from it. */
import type { CommandSpec, GroupSpec } from '../spec.js';
import { LAB_COMMANDS, LAB_GROUP } from './lab.js';

export const GROUPS: GroupSpec[] = [LAB_GROUP];

export const COMMANDS: CommandSpec[] = [...LAB_COMMANDS];
