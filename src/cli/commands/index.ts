/** The command table: every CLI command is one row. Help, parsing and error handling derive from it. */
import type { CommandSpec, GroupSpec } from '../spec.js';
import { BENCH_COMMANDS } from './bench.js';
import { CONNECT_COMMANDS } from './connect.js';
import { CONTROLLER_COMMANDS } from './controller.js';
import { CTL_COMMANDS, CTL_GROUP } from './ctl.js';
import { DEMO_COMMANDS } from './demo.js';
import { DOCTOR_COMMANDS } from './doctor.js';
import { LAB_COMMANDS, LAB_GROUP } from './lab.js';
import { PROXY_COMMANDS } from './proxy.js';
import { RETURN_COMMANDS } from './return-agent.js';
import { STEER_COMMANDS } from './steer.js';

export const GROUPS: GroupSpec[] = [LAB_GROUP, CTL_GROUP];

export const COMMANDS: CommandSpec[] = [...PROXY_COMMANDS, ...CTL_COMMANDS, ...CONNECT_COMMANDS, ...CONTROLLER_COMMANDS, ...STEER_COMMANDS, ...RETURN_COMMANDS, ...DOCTOR_COMMANDS, ...LAB_COMMANDS, ...DEMO_COMMANDS, ...BENCH_COMMANDS];
