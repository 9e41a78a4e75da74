import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_AGENT_LIMITS } from '../../access-router/limits.js';
import { CONTROLLER_COMMANDS } from './controller.js';

describe('srv6pipes access-router', () => {
  test('the command’s help states the defaults the schema applies', () => {
    const cmd = CONTROLLER_COMMANDS.find((c) => c.name === 'access-router')!;
    const d = DEFAULT_AGENT_LIMITS;
    const expected: Record<string, number> = { 'min-source-length': d.minSourceLength, 'max-lifetime': d.maxLifetimeMs / 1000, 'max-segments': d.maxSegments, 'max-bsids': d.maxBsids, 'max-in-flight': d.maxInFlight, 'max-connections': d.maxConnections };
    for (const [flag, value] of Object.entries(expected)) {
      const o = Object.values(cmd.options ?? {}).find((x) => x.flags.startsWith(`--${flag} `));
      assert.ok(o, flag);
      assert.match(o.description, new RegExp(`\\(default ${value}\\)$`), flag);
    }
  });});
