import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { writeConfig } from '../../test/helpers/harness.js';
import { isSrError } from '../core/errors.js';
import { loadControllerConfig, validateControllerConfig } from './config.js';
import { readExample } from '../config/examples.js';

const ACCESS_CONTROLLER_YAML = readExample('controller-access.yaml');

/** The access lab's config with the access router's agent replaced. */
function withAgent(agent: unknown): Record<string, any> {
  const doc = YAML.parse(ACCESS_CONTROLLER_YAML) as Record<string, any>;
  doc['nodes'].accessRouters[0].agent = agent;
  return doc;
}

describe('controller config: the access router agent section', () => {
  test('http with a token file and TLS (CA, client certificate, server name, timeout)', () => {
    const c = validateControllerConfig(withAgent({ http: '[fc00:9::1]:7780', tokenFile: '/etc/t', tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem', serverName: 'ar.example' }, timeout: 2000 }));
    assert.deepEqual(c.accessRouters[0]!.agent, { kind: 'http', endpoint: '[fc00:9::1]:7780', timeoutMs: 2000, tokenFile: '/etc/t', tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem', serverName: 'ar.example' } });
    assert.deepEqual(validateControllerConfig(withAgent({ http: '[fc00:9::1]:7780' })).accessRouters[0]!.agent, { kind: 'http', endpoint: '[fc00:9::1]:7780', timeoutMs: 5000 });
  });

  test('bad agent sections name the field', () => {
    const bad = (agent: unknown, re: RegExp): void =>
      assert.throws(() => validateControllerConfig(withAgent(agent)), (e: unknown) => isSrError(e, 'CONFIG_INVALID') && re.test(e.message));
    bad({ http: 'fc00:9::1:7780' }, /agent\.http: \[ADDR\]:PORT/);
    bad({ http: '[fc00:9::1]:7780', tls: { cert: 'c.pem' } }, /agent\.tls\.ca/);
    bad({ http: '[fc00:9::1]:7780', tls: { ca: 'ca.pem', cert: 'c.pem' } }, /cert and key go together/);
    bad({ http: '[fc00:9::1]:7780', timeout: 10 }, /agent\.timeout/);
    bad({ http: '[fc00:9::1]:7780', token: 'inline' }, /agent/);
    bad({}, /agent: either `http/);
    bad({ http: '[fc00:9::1]:7780', local: {} }, /agent: either `http/);
    bad({ local: {}, tokenFile: 't' }, /agent\.tokenFile: only for an `http` agent/);
  });

  test('the token and TLS files are relative to the config file', () => {
    const doc = withAgent({ http: '[fc00:9::1]:7780', tokenFile: 'ar.token', tls: { ca: 'pki/ca.pem', cert: '/abs/c.pem', key: 'k.pem' } });
    const path = writeConfig(YAML.stringify(doc));
    writeFileSync(join(dirname(path), 'ar.token'), 'x\n');
    const agent = loadControllerConfig(path).accessRouters[0]!.agent;
    const dir = dirname(path);
    assert.deepEqual(agent, { kind: 'http', endpoint: '[fc00:9::1]:7780', timeoutMs: 5000, tokenFile: join(dir, 'ar.token'), tls: { ca: join(dir, 'pki/ca.pem'), cert: '/abs/c.pem', key: join(dir, 'k.pem') } });
  });
});
