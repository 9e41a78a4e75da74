import type { CommandSpec, GroupSpec } from '../spec.js';

export const LAB_GROUP: GroupSpec = { name: 'lab', summary: 'Network-namespace labs (topologies in YAML)' };
export const LAB_COMMANDS: CommandSpec[] = [];
