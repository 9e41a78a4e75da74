import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSrError, type SrError } from '../core/errors.js';
import { checkFunctions, parseFunctionEntry, parseProxyConfig } from './config.js';
import { parsePrefix } from '../net/ip6.js';

const ISSUE_EXAMPLE = `
port: 7777              # transparent listener (default 7777)
workers: 2              # default: CPU count; workers share the port with SO_REUSEPORT
locators:
  - prefix: fc00:a::/80
    functionBits: 16    # default 16; argument = the remaining low bits
functions:
  - { id: 1, function: copy }
  - { id: 2, function: xor }                      # key = low 8 bits of the argument
  - { id: 3, function: xor, options: { passes: 4 } }
`;

function fails(text: string, code: string, field?: string): void {
  assert.throws(
    () => parseProxyConfig(text, 'test.yaml'),
    (e: unknown) => {
      assert.ok(isSrError(e), String(e));
      assert.equal((e as SrError).code, code);
      if (field) assert.match((e as SrError).message, new RegExp(field.replace(/[[\].]/g, '\\$&')));
      return true;
    },
  );
}

test('the example from the issue validates with its defaults', () => {
  const c = parseProxyConfig(ISSUE_EXAMPLE);
  assert.equal(c.port, 7777);
  assert.equal(c.workers, 2);
  assert.equal(c.locators.length, 1);
  assert.equal(c.locators[0]!.functionBits, 16);
  assert.deepEqual(c.functions.map((f) => f.id), [1, 2, 3]);
  assert.deepEqual(c.functions[2]!.parts, [{ function: 'xor', options: { passes: 4 } }]);
  assert.deepEqual(c.netconf, { mark: 0x1000000, table: 7777, intercept: 'sklookup', ownPrefixes: 4096 });
  assert.deepEqual(c.admin?.tcp, { address: '127.0.0.1', port: 7778 });
  assert.equal(c.admin?.socket, null);
  assert.equal(c.admin?.tokenFile, null);
  assert.equal(c.timeouts.connect, 5000);
});

test('JSON is accepted too', () => {
  const c = parseProxyConfig(JSON.stringify({ locators: [{ prefix: 'fc00:b::/64' }], functions: [{ id: 7, function: 'copy' }], netconf: 'off' }));
  assert.equal(c.netconf, null);
  assert.equal(c.functions[0]!.parts[0]!.function, 'copy');
});

test('durations accept ms numbers and unit strings', () => {
  const c = parseProxyConfig(`locators: [{prefix: "fc00::/64"}]\nfunctions: [{id: 1, function: copy}]\ntimeouts: {connect: 1500, idle: 2m, drain: 3s}`);
  assert.deepEqual(c.timeouts, { connect: 1500, idle: 120000, drain: 3000 });
});

test('durations are bounded: nothing a timer would turn into 1 ms (issue 12 item 9)', () => {
  const base = 'locators: [{prefix: "fc00::/64"}]\nfunctions: [{id: 1, function: copy}]\n';
  fails(`${base}timeouts: {connect: 36000m}`, 'CONFIG_INVALID', 'timeouts.connect');
  fails(`${base}timeouts: {idle: 2147483648}`, 'CONFIG_INVALID', 'timeouts.idle');
  fails(`${base}timeouts: {drain: 2h}`, 'CONFIG_INVALID', 'timeouts.drain');
  fails(`${base}bindingSids: {controller: "[fc00:9::2]:53", prefixes: ["fc00:f::/64"], timeout: 0}`, 'CONFIG_INVALID', 'bindingSids.timeout');
  fails(`${base}bindingSids: {controller: "[fc00:9::2]:53", prefixes: ["fc00:f::/64"], maxCache: 25h}`, 'CONFIG_INVALID', 'bindingSids.maxCache');
  const c = parseProxyConfig(`${base}timeouts: {connect: 1h, idle: 2147483647, drain: 1h}`);
  assert.deepEqual(c.timeouts, { connect: 3_600_000, idle: 2_147_483_647, drain: 3_600_000 });
});

test('errors name the field', () => {
  const base = 'locators: [{prefix: "fc00:a::/80"}]\n';
  fails(`${base}functions: [{id: 1, function: copy}, {id: 1, function: xor}]`, 'CONFIG_INVALID', 'functions[1].id');
  fails(`locators: [{prefix: "fc00:a::"}]\nfunctions: [{id: 1, function: copy}]`, 'CONFIG_INVALID', 'locators[0].prefix');
  fails(`locators: [{prefix: "fc00:a::/120", functionBits: 16}]\nfunctions: [{id: 1, function: copy}]`, 'CONFIG_INVALID', 'locators[0]');
  fails(`${base}functions: [{id: 70000, function: copy}]`, 'CONFIG_INVALID', 'functions[0].id');
  fails(`${base}functions: [{id: 1, function: copy}]\nport: 99999`, 'CONFIG_INVALID', 'port');
  fails(`${base}functions: [{id: 1, function: copy}]\nbogus: 1`, 'CONFIG_INVALID');
  fails(`${base}functions: []`, 'CONFIG_INVALID', 'functions');
  fails(`${base}functions: [{id: 1, function: copy}]\ntimeouts: {idle: soon}`, 'CONFIG_INVALID', 'timeouts.idle');
});

/** The message of the CONFIG_INVALID that `text` fails with. */
function messageOf(text: string): string {
  try {
    parseProxyConfig(text, 'p.yaml');
  } catch (e) {
    assert.ok(isSrError(e, 'CONFIG_INVALID'), String(e));
    return e.message;
  }
  assert.fail('accepted');
}

test('issue 15: each mistake in a functions entry is named at its field, not `functions[0]: Invalid input`', () => {
  const base = 'locators: [{prefix: "fc00:a::/48"}]\n';
  const cases: [string, string][] = [
    ['{function: copy}', 'functions[0].id: required (a whole number 0–65535 with 16 function bits: the function field of its SIDs)'],
    ['{id: 1}', 'functions[0].function: required: a function name (or `chain: [...]` of functions)'],
    ['{id: "2", function: copy}', 'functions[0].id: expected a number, not the string "2" (write 2 without quotes)'],
    ['{id: 1, function: copy, chain: [{function: copy}]}', 'functions[0]: give either function (or its old name vf) or chain, not both'],
    ['{id: 1, vf: copy, chain: [{function: copy}]}', 'functions[0]: give either function (or its old name vf) or chain, not both'],
    ['{id: 1, chain: [{function: copy}], options: {}}', 'functions[0].options: a chain takes options per function: `chain: [{ function, options }]`'],
    ['{id: 1, chain: [{funtion: copy}]}', 'functions[0].chain[0].funtion: unknown key: did you mean `function`?'],
    ['{id: 70000, function: copy}', 'functions[0].id: 70000 does not fit the 16 function bits of locators[0] (fc00:a::/48): 0–65535'],
  ];
  for (const [entry, want] of cases) assert.equal(messageOf(`${base}functions: [${entry}]`), `p.yaml: ${want}`, entry);
});

test('issue 15: durations keep their hint (units ms, s, m, h) and say what was given', () => {
  const base = 'locators: [{prefix: "fc00:a::/48"}]\nfunctions: [{id: 1, function: copy}]\n';
  assert.equal(parseProxyConfig(`${base}timeouts: {idle: 1h}`).timeouts.idle, 3_600_000);
  assert.equal(messageOf(`${base}timeouts: {idle: 1d}`), 'p.yaml: timeouts.idle: a duration such as 500ms, 5s, 2m or 1h (a bare number counts milliseconds), between 0ms and 2147483647ms (24.8 days, what a timer takes), not "1d"');
  assert.equal(messageOf(`${base}timeouts: {idle: true}`), 'p.yaml: timeouts.idle: a duration such as 500ms, 5s, 2m or 1h (a bare number counts milliseconds), between 0ms and 2147483647ms (24.8 days, what a timer takes), not true');
  assert.equal(messageOf(`${base}timeouts: {connect: 2h}`), 'p.yaml: timeouts.connect: a duration between 0ms and 1h, not 2h');
});

test('issue 15: an unknown key names itself and the key probably meant', () => {
  const fns = 'functions: [{id: 1, function: copy}]\n';
  assert.equal(messageOf(`locator: [{prefix: "fc00:a::/48"}]\n${fns}`), 'p.yaml: locator: unknown key: did you mean `locators`?');
  assert.equal(messageOf(`locators: [{prefix: "fc00:a::/48"}]\n${fns}admin: {adress: "::1"}`), 'p.yaml: admin.adress: unknown key: did you mean `address`?');
  assert.equal(messageOf(`locators: [{prefix: "fc00:a::/48"}]\n${fns}nativeRelay: {zzz: 1}`), 'p.yaml: nativeRelay.zzz: unknown key: the keys here are mode, capacity, reportMs, connect, accept, acceptOn, connectEarly, earlyPauseMs');
});

test('issue 15: a union says what it takes, the value given, and the real mistake inside the matching branch', () => {
  const base = 'locators: [{prefix: "fc00:a::/48"}]\nfunctions: [{id: 1, function: copy}]\n';
  assert.equal(messageOf(`${base}nativeRelay: maybe`), 'p.yaml: nativeRelay: expected "off", false or a mapping (key: value), not the string "maybe"');
  assert.equal(messageOf(`${base}netconf: {intercept: bpf}`), 'p.yaml: netconf.intercept: expected "auto", "tproxy" or "sklookup", not the string "bpf"');
  assert.equal(messageOf(`${base}workers: 1000`), 'p.yaml: workers: at most 256 (got 1000)');
});

test('issue 15: cross-field checks: host bits in a locator, overlapping locators, two listeners on one port', () => {
  const fns = 'functions: [{id: 1, function: copy}]\n';
  assert.equal(messageOf(`locators: [{prefix: "fc00:a::1/48"}]\n${fns}`), 'p.yaml: locators[0].prefix: fc00:a::1/48 has bits set past its length: write fc00:a::/48');
  assert.equal(messageOf(`locators: [{prefix: "fc00:a::/48"}, {prefix: "fc00:a:0:1::/64"}]\n${fns}`), 'p.yaml: locators[1].prefix: fc00:a:0:1::/64 overlaps locators[0] (fc00:a::/48): a SID would belong to both');
  // two bad prefixes: CONFIG_INVALID naming the first, not a TypeError from the overlap check (fuzz finding, seed 556502399)
  assert.match(messageOf(`locators: [{prefix: f}, {prefix: f}]\n${fns}`), /^p\.yaml: locators\[0\]\.prefix/);
  const base = `locators: [{prefix: "fc00:a::/48"}]\n${fns}`;
  assert.equal(messageOf(`${base}admin: {port: 7777}`), 'p.yaml: admin.port: 7777 is the port of the transparent listener (port) too: give each listener its own port');
  assert.equal(messageOf(`${base}port: 7000\nadmin: {port: 7100}\nmptcp: {converter: {port: 7100, from: ["fc00:c::/64"]}}`), 'p.yaml: mptcp.converter.port: 7100 is the port of the admin endpoint (admin.port) too: give each listener its own port');
  assert.equal(messageOf(`${base}mptcp: {converter: {port: 7777, from: ["fc00:c::/64"]}}`), 'p.yaml: mptcp.converter.port: 7777 is the port of the transparent listener (port) too: give each listener its own port');
});

test('issue 15: a function option is worded like every config error (its descriptor’s zod schema)', async () => {
  const c = parseProxyConfig('locators: [{prefix: "fc00:a::/48"}]\nfunctions: [{id: 1, function: copy}, {id: 3, function: xor, options: {passes: -1}}, {id: 4, function: xor, options: {pases: 2}}]', 'p.yaml');
  await assert.rejects(checkFunctions({ ...c, functions: [c.functions[1]!] }, 'p.yaml'), (e: unknown) => isSrError(e, 'CONFIG_INVALID') && e.message === 'p.yaml: functions[0].options.passes: at least 0 (got -1)');
  await assert.rejects(checkFunctions({ ...c, functions: [c.functions[2]!] }, 'p.yaml'), (e: unknown) => isSrError(e, 'CONFIG_INVALID') && e.message === 'p.yaml: functions[0].options.pases: unknown key: did you mean `passes`?');
});

test('issue 15: a YAML syntax error is one line, FILE:LINE:COLUMN and the parser\'s words, the line quoted in the hint', () => {
  assert.throws(
    () => parseProxyConfig('locators: [{prefix: "fc00:a::/48"}]\nfunctions: [{id: 1, function: copy}\n  x: : :\n', 'p.yaml'),
    (e: unknown) => isSrError(e, 'CONFIG_SYNTAX') && e.message === 'p.yaml:3:3: Missing , or : between flow sequence items' && e.hint === 'line 3 is "  x: : :"; the file must be YAML (JSON is YAML too)',
  );
});

test('bad YAML is CONFIG_SYNTAX', () => {
  fails('locators: [unclosed', 'CONFIG_SYNTAX');
});

test('function entries are checked by loading them: errors name the field', async () => {
  const base = 'locators: [{prefix: "fc00:a::/80"}]\n';
  const cases: [string, string, string][] = [
    ['functions: [{id: 1, function: copy}, {id: 3, function: xor, options: {passes: -2}}]', 'CONFIG_INVALID', 'functions[1].options.passes'],
    ['functions: [{id: 1, function: nosuch}]', 'UNKNOWN_FUNCTION', 'functions[0].function'],
    ['functions: [{id: 1, chain: [{ function: copy}, { function: xor, options: {passes: x}}]}]', 'CONFIG_INVALID', 'functions[0].chain[1].options.passes'],
    ['functions: [{id: 1, function: ./no/such/module.js}]', 'BAD_FUNCTION_MODULE', 'functions[0].function'],
  ];
  for (const [text, code, field] of cases) {
    const cfg = parseProxyConfig(base + text, 'test.yaml');
    await assert.rejects(checkFunctions(cfg, 'test.yaml'), (e: unknown) => {
      assert.ok(isSrError(e), String(e));
      assert.equal((e as SrError).code, code, (e as Error).message);
      assert.ok((e as Error).message.includes(field), `${(e as Error).message} names ${field}`);
      return true;
    });
  }
  await checkFunctions(parseProxyConfig(base + 'functions: [{id: 1, chain: [{ function: copy}, { function: xor}]}]'));
});

test('a chain entry keeps its parts in order', () => {
  const c = parseProxyConfig('locators: [{prefix: "fc00:a::/80"}]\nfunctions: [{id: 4, chain: [{ function: xor, options: {passes: 2}}, { function: copy}]}]');
  assert.deepEqual(c.functions[0], { id: 4, chain: true, parts: [{ function: 'xor', options: { passes: 2 } }, { function: 'copy', options: {} }] });
});

test('binding SIDs and return paths: parsed and checked', () => {
  const c = parseProxyConfig(`${ISSUE_EXAMPLE}bindingSids: { controller: "[fc00:9::2]:53", prefixes: [ "fc00:f::/64" ] }\nreturnPath: { id: 17, sid: "fc00:a::ffff" }\nreturnHops: [ { id: 18, sid: "fc00:b::ffff" } ]\n`);
  assert.deepEqual(c.bindingSids, {
    controllers: ['[fc00:9::2]:53'],
    prefixes: [parsePrefix('fc00:f::/64')],
    timeoutMs: 2000,
    maxCacheMs: 60_000,
    negativeCacheMs: 1000,
    cacheSize: 4096,
    maxCandidates: 1,
    maxInflight: 16,
  });
  assert.deepEqual(c.returnPath, { id: 17, sid: 'fc00:a::ffff' });
  assert.deepEqual(c.returnHops, [{ id: 18, sid: 'fc00:b::ffff' }]);
  fails(`${ISSUE_EXAMPLE}bindingSids: { controller: "not an address", prefixes: [ "fc00:f::/64" ] }\n`, 'CONFIG_INVALID', 'bindingSids.controller');
  // several controller instances (one store): a list, each entry checked
  const several = parseProxyConfig(`${ISSUE_EXAMPLE}bindingSids: { controller: [ "[fc00:9::2]:53", "[fc00:8::2]:5353" ], prefixes: [ "fc00:f::/64" ] }\n`);
  assert.deepEqual(several.bindingSids?.controllers, ['[fc00:9::2]:53', '[fc00:8::2]:5353']);
  fails(`${ISSUE_EXAMPLE}bindingSids: { controller: [ "[fc00:9::2]:53", "nope" ], prefixes: [ "fc00:f::/64" ] }\n`, 'CONFIG_INVALID', 'bindingSids.controller[1]');
  fails(`${ISSUE_EXAMPLE}bindingSids: { controller: [], prefixes: [ "fc00:f::/64" ] }\n`, 'CONFIG_INVALID', 'bindingSids.controller');
  // the BSID prefixes are required: without them any segment of a SYN would be looked up
  fails(`${ISSUE_EXAMPLE}bindingSids: { controller: "[fc00:9::2]:53" }\n`, 'CONFIG_INVALID', 'bindingSids.prefixes');
  fails(`${ISSUE_EXAMPLE}bindingSids: { controller: "[fc00:9::2]:53", prefixes: [] }\n`, 'CONFIG_INVALID', 'bindingSids.prefixes');
  fails(`${ISSUE_EXAMPLE}bindingSids: { controller: "[fc00:9::2]:53", prefixes: [ "nope" ] }\n`, 'CONFIG_INVALID', 'bindingSids.prefixes[0]');
  for (const [k, v] of [['maxCandidates', 0], ['maxCandidates', 9], ['maxInflight', 0], ['cacheSize', 0]] as const) {
    fails(`${ISSUE_EXAMPLE}bindingSids: { controller: "[fc00:9::2]:53", prefixes: [ "fc00:f::/64" ], ${k}: ${v} }\n`, 'CONFIG_INVALID', `bindingSids.${k}`);
  }
  fails(`${ISSUE_EXAMPLE}returnPath: { id: 17, sid: "fc00:b::ffff" }\n`, 'CONFIG_INVALID', 'returnPath.sid');
  fails(`${ISSUE_EXAMPLE}returnPath: { id: 0, sid: "fc00:a::ffff" }\n`, 'CONFIG_INVALID', 'returnPath.id');
  fails(`${ISSUE_EXAMPLE}returnHops: [ { id: 18, sid: "fc00:b::1" }, { id: 18, sid: "fc00:b::2" } ]\n`, 'CONFIG_INVALID', 'returnHops[1].id');
});

test('mptcp: the converter and the mptcp function are validated', async () => {
  const base = 'locators: [ { prefix: "fc00:a::/80" } ]\n';
  const fn = 'functions: [ { id: 7, function: mptcp, options: { uplinks: ["fc00:31::1", "fc00:32::1"] } } ]\n';
  fails(base + fn, 'CONFIG_INVALID', 'functions[0].function');
  fails(`${base + fn}mptcp: { pathManager: kernel }\n`, 'CONFIG_INVALID', 'functions[0].function');
  fails(`${base}functions: [ { id: 1, function: copy } ]\nmptcp: { converter: { port: 7777, from: ["fc00:31::/64"] } }\n`, 'CONFIG_INVALID', 'mptcp.converter.port');
  fails(`${base}functions: [ { id: 1, function: copy } ]\nmptcp: { converter: { port: 7780 } }\n`, 'CONFIG_INVALID', 'mptcp.converter.from');
  fails(`${base}functions: [ { id: 1, function: copy } ]\nmptcp: { converter: { port: 7780, from: [] } }\n`, 'CONFIG_INVALID', 'mptcp.converter.from');
  fails(`${base}functions: [ { id: 1, function: copy } ]\nmptcp: { pathManager: smart }\n`, 'CONFIG_INVALID', 'mptcp.pathManager');
  const ok = parseProxyConfig(`${base + fn}mptcp: { pathManager: userspace, subflows: 4 }\n`, 'test.yaml');
  assert.deepEqual(ok.mptcp, { pathManager: 'userspace', subflows: 4, converterPort: null, converterFrom: [] });
  await checkFunctions(ok, 'test.yaml');
  const one = parseProxyConfig(`${base}functions: [ { id: 7, function: mptcp, options: { uplinks: ["fc00:31::1"] } } ]\nmptcp: { pathManager: userspace }\n`, 'test.yaml');
  await assert.rejects(checkFunctions(one, 'test.yaml'), (e: unknown) => isSrError(e) && /uplinks.*at least two/.test(e.message));
});

const ADMIN_BASE = 'locators: [ { prefix: "fc00:a::/80" } ]\nfunctions: [ { id: 1, function: copy } ]\n';

test('admin: a non-loopback address without a credential is refused with ADMIN_INSECURE', () => {
  fails(`${ADMIN_BASE}admin: { address: "::" }\n`, 'ADMIN_INSECURE', 'admin.address');
  fails(`${ADMIN_BASE}admin: { address: "fc00:9::1", port: 7778 }\n`, 'ADMIN_INSECURE', 'admin.address');
  // explicit read-only (health and metrics for Prometheus), or a token: accepted
  const ro = parseProxyConfig(`${ADMIN_BASE}admin: { address: "::", readOnly: true, socket: /run/s6p.sock }\n`, 'x', '/etc/s6p');
  assert.equal(ro.admin?.readOnly, true);
  assert.deepEqual(ro.admin?.socket, { path: '/run/s6p.sock', mode: 0o600 });
  const tok = parseProxyConfig(`${ADMIN_BASE}admin: { address: "::", tokenFile: admin.token }\n`, 'x', '/etc/s6p');
  assert.equal(tok.admin?.tokenFile, '/etc/s6p/admin.token');
  // loopback without a credential starts (read-only for every private route)
  assert.equal(parseProxyConfig(`${ADMIN_BASE}admin: { address: "::1" }\n`).admin?.tcp?.address, '::1');
});

test('admin: the cross-key rules and the defaults', () => {
  fails(`${ADMIN_BASE}admin: { port: off }\n`, 'CONFIG_INVALID', 'admin.port');
  fails(`${ADMIN_BASE}admin: { readOnly: true, tokenFile: t }\n`, 'CONFIG_INVALID', 'admin.tokenFile');
  fails(`${ADMIN_BASE}admin: { port: off, socket: /run/a.sock, tokenFile: t }\n`, 'CONFIG_INVALID', 'admin.tokenFile');
  fails(`${ADMIN_BASE}admin: { socket: /run/a.sock, socketMode: "0666" }\n`, 'CONFIG_INVALID', 'admin.socketMode');
  fails(`${ADMIN_BASE}admin: { socket: /run/a.sock, socketMode: 0600 }\n`, 'CONFIG_INVALID', 'admin.socketMode');
  fails(`${ADMIN_BASE}admin: { socket: /${'x'.repeat(120)} }\n`, 'CONFIG_INVALID', 'admin.socket');
  fails(`${ADMIN_BASE}admin: { token: abc }\n`, 'CONFIG_INVALID', 'admin');
  const c = parseProxyConfig(`${ADMIN_BASE}admin: { port: off, socket: admin.sock, socketMode: "0660", moduleDirs: [ fns, /opt/fns ] }\n`, 'x', '/etc/s6p');
  assert.equal(c.admin?.tcp, null);
  assert.deepEqual(c.admin?.socket, { path: '/etc/s6p/admin.sock', mode: 0o660 });
  assert.deepEqual(c.admin?.moduleDirs, ['/etc/s6p/fns', '/opt/fns']);
  assert.deepEqual(parseProxyConfig(ADMIN_BASE, 'x', '/etc/s6p').admin?.moduleDirs, ['/etc/s6p'], 'default: the config file’s directory');
  assert.equal(parseProxyConfig(`${ADMIN_BASE}admin: off\n`).admin, null);
});

test('logLimit: defaults, a given value, and its bounds (issue 12 item 16)', () => {
  assert.deepEqual(parseProxyConfig(ISSUE_EXAMPLE).logLimit, { burst: 10, intervalMs: 10_000 });
  assert.deepEqual(parseProxyConfig(`${ISSUE_EXAMPLE}\nlogLimit: { burst: 3, interval: 2s }`).logLimit, { burst: 3, intervalMs: 2000 });
  fails(`${ISSUE_EXAMPLE}\nlogLimit: { burst: 0 }`, 'CONFIG_INVALID', 'logLimit.burst');
  fails(`${ISSUE_EXAMPLE}\nlogLimit: { interval: 10ms }`, 'CONFIG_INVALID', 'logLimit.interval');
  fails(`${ISSUE_EXAMPLE}\nlogLimit: { interval: 61m }`, 'CONFIG_INVALID', 'logLimit.interval');
  fails(`${ISSUE_EXAMPLE}\nlogLimit: { rate: 1 }`, 'CONFIG_INVALID', 'logLimit');
});

test('netconf.intercept: auto (sklookup with a listener on ::, else tproxy), or either on request, nothing else', () => {
  const base = { locators: [{ prefix: 'fc00:b::/64' }], functions: [{ id: 7, function: 'copy' }] };
  assert.deepEqual(parseProxyConfig(JSON.stringify({ ...base, netconf: { intercept: 'sklookup' } })).netconf, { mark: 0x1000000, table: 7777, intercept: 'sklookup', ownPrefixes: 4096 });
  assert.equal(parseProxyConfig(JSON.stringify({ ...base, netconf: { mark: 2 } })).netconf?.intercept, 'sklookup');
  assert.equal(parseProxyConfig(JSON.stringify(base)).netconf?.intercept, 'sklookup');
  assert.equal(parseProxyConfig(JSON.stringify({ ...base, listen: 'fc00:b::1' })).netconf?.intercept, 'tproxy', 'auto: a listener on one address needs tproxy');
  assert.equal(parseProxyConfig(JSON.stringify({ ...base, netconf: { intercept: 'tproxy' } })).netconf?.intercept, 'tproxy');
  fails(JSON.stringify({ ...base, netconf: { intercept: 'bpf' } }), 'CONFIG_INVALID', 'netconf');
  fails(JSON.stringify({ ...base, netconf: { intercept: 'sklookup', ownPrefixes: 2 } }), 'CONFIG_INVALID', 'netconf');
  fails(JSON.stringify({ ...base, listen: 'fc00:b::1', netconf: { intercept: 'sklookup' } }), 'CONFIG_INVALID', 'listen');
  assert.equal(parseProxyConfig(JSON.stringify({ ...base, listen: '0::0', netconf: { intercept: 'sklookup' } })).listen, '0::0');
});

test('declared requirements: a module that requires mptcp-userspace is refused by a proxy without it (config, ctl load, reload)', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-requires-'));
  writeFileSync(
    join(dir, 'needy.mjs'),
    `export default { name: 'needy', summary: 'needs MPTCP subflows', requires: ['mptcp-userspace'], options: { safeParse: (v) => ({ success: true, data: v }) }, spawn: () => ({ upstream: { data: (c) => c }, downstream: { data: (c) => c } }) };\n`,
  );
  const base = 'locators: [ { prefix: "fc00:a::/80" } ]\nfunctions: [ { id: 1, function: ./needy.mjs } ]\n';
  const without = parseProxyConfig(base, 'test.yaml', dir);
  await assert.rejects(checkFunctions(without, 'test.yaml'), (e: unknown) => {
    assert.ok(isSrError(e, 'CONFIG_INVALID'), String(e));
    assert.match((e as Error).message, /^test\.yaml: functions\[0\]\.function: needy requires mptcp-userspace: .*pathManager: userspace/);
    return true;
  });
  await checkFunctions(parseProxyConfig(`${base}mptcp: { pathManager: userspace }\n`, 'test.yaml', dir), 'test.yaml');
  // the built-in's requirement is checked by the config itself, with the same words
  assert.throws(() => parseProxyConfig('locators: [ { prefix: "fc00:a::/80" } ]\nfunctions: [ { id: 2, chain: [ { function: copy }, { function: mptcp, options: { uplinks: ["fc00:31::1", "fc00:32::1"] } } ] } ]\n', 'test.yaml'), (e: unknown) => {
    assert.ok(isSrError(e, 'CONFIG_INVALID'));
    assert.match((e as Error).message, /functions\[0\]\.chain\[1\]\.function: the mptcp function requires mptcp-userspace: it asks for subflows per connection/);
    return true;
  });
});

test('the old key `vf` is still accepted, with one deprecation line per load naming every place', () => {
  const c = parseProxyConfig('locators: [{prefix: "fc00:a::/80"}]\nfunctions:\n  - {id: 1, vf: copy}\n  - {id: 2, chain: [{vf: xor}, {function: copy}]}\n  - {id: 3, function: xor}\n', 'old.yaml');
  assert.deepEqual(c.functions.map((f) => f.parts.map((p) => p.function)), [['copy'], ['xor', 'copy'], ['xor']]);
  assert.deepEqual(c.deprecations, ['old.yaml: the key `vf` is deprecated: write `function` (at functions[0].vf, functions[1].chain[0].vf)']);
  assert.deepEqual(parseProxyConfig(ISSUE_EXAMPLE).deprecations, [], 'the new key: no line');
  fails('locators: [{prefix: "fc00:a::/80"}]\nfunctions: [{id: 1, vf: copy, function: xor}]', 'CONFIG_INVALID', 'functions[0].vf');
});

test('ctl load --spec entries: the same schema, the same old key, one FunctionSpec', () => {
  assert.deepEqual(parseFunctionEntry({ id: 9, function: 'xor', options: { passes: 2 } }), { spec: { id: 9, parts: [{ function: 'xor', options: { passes: 2 } }], chain: false }, deprecations: [] });
  const old = parseFunctionEntry({ id: 9, chain: [{ vf: 'compress' }, { function: 'xor' }] });
  assert.deepEqual(old.spec, { id: 9, parts: [{ function: 'compress', options: {} }, { function: 'xor', options: {} }], chain: true });
  assert.deepEqual(old.deprecations, ['spec: the key `vf` is deprecated: write `function` (at chain[0].vf)']);
  assert.throws(() => parseFunctionEntry({ id: -1, function: 'xor' }), (e: unknown) => isSrError(e, 'CONFIG_INVALID') && /^spec: id: /.test(e.message));
});

test('nativeRelay: on by default (auto); off turns it off; the relay options with their defaults and bounds (issue 14)', () => {
  assert.deepEqual(parseProxyConfig(ISSUE_EXAMPLE).nativeRelay, { mode: 'auto', capacity: 262144, reportMs: 100, connect: true, accept: true, acceptOn: 'loop', connectEarly: true, earlyPauseMs: 1000 });
  assert.equal(parseProxyConfig(`${ISSUE_EXAMPLE}\nnativeRelay: false`).nativeRelay, null);
  assert.equal(parseProxyConfig(`${ISSUE_EXAMPLE}\nnativeRelay: off`).nativeRelay, null);
  assert.deepEqual(parseProxyConfig(`${ISSUE_EXAMPLE}\nnativeRelay: {}`).nativeRelay, { mode: 'auto', capacity: 262144, reportMs: 100, connect: true, accept: true, acceptOn: 'loop', connectEarly: true, earlyPauseMs: 1000 });
  assert.deepEqual(parseProxyConfig(`${ISSUE_EXAMPLE}\nnativeRelay: { mode: splice, capacity: 65536 }`).nativeRelay, { mode: 'splice', capacity: 65536, reportMs: 100, connect: true, accept: true, acceptOn: 'loop', connectEarly: true, earlyPauseMs: 1000 });
  fails(`${ISSUE_EXAMPLE}\nnativeRelay: { capacity: 100 }`, 'CONFIG_INVALID', 'nativeRelay');
  fails(`${ISSUE_EXAMPLE}\nnativeRelay: { mode: sockmap }`, 'CONFIG_INVALID', 'nativeRelay');
  fails(`${ISSUE_EXAMPLE}\nnativeRelay: on`, 'CONFIG_INVALID', 'nativeRelay');
  assert.equal(parseProxyConfig(`${ISSUE_EXAMPLE}\nnativeRelay: { connect: false }`).nativeRelay?.connect, false);
  fails(`${ISSUE_EXAMPLE}\nnativeRelay: { connect: 3 }`, 'CONFIG_INVALID', 'nativeRelay');
  assert.equal(parseProxyConfig(`${ISSUE_EXAMPLE}\nnativeRelay: { accept: false }`).nativeRelay?.accept, false);
  assert.equal(parseProxyConfig(`${ISSUE_EXAMPLE}\nnativeRelay: { acceptOn: thread }`).nativeRelay?.acceptOn, 'thread');
  fails(`${ISSUE_EXAMPLE}\nnativeRelay: { acceptOn: kernel }`, 'CONFIG_INVALID', 'nativeRelay');
  fails(`${ISSUE_EXAMPLE}\nnativeRelay: { accept: 1 }`, 'CONFIG_INVALID', 'nativeRelay');
});

test('nativeRelay: a splicing relay counts 6 descriptors per flow in the nofile need (recv/send 2), the flow cap 2', async () => {
  const { fdsPerFlow, nofileNeed } = await import('./rlimit.js');
  const base = parseProxyConfig(`${ISSUE_EXAMPLE}\nlimits: { flows: 1000 }\nnativeRelay: off`);
  const auto = parseProxyConfig(`${ISSUE_EXAMPLE}\nlimits: { flows: 1000 }`);
  const copy = parseProxyConfig(`${ISSUE_EXAMPLE}\nlimits: { flows: 1000 }\nnativeRelay: { mode: copy }`);
  // a flow must have its 2 sockets; the pipes are room the limit makes, not a cap's count
  assert.deepEqual([fdsPerFlow(base), fdsPerFlow(auto), fdsPerFlow(copy)], [2, 2, 2]);
  assert.equal(nofileNeed(auto) - nofileNeed(base), 4 * 500);
  assert.equal(nofileNeed(copy), nofileNeed(base));
});

test('workers: 0 (the primary serves the flows itself) is valid; negative, fractional or more than 256 are not', () => {
  const base = 'locators: [{prefix: "fc00::/64"}]\nfunctions: [{id: 1, function: copy}]\n';
  assert.equal(parseProxyConfig(`${base}workers: 0`).workers, 0);
  assert.equal(parseProxyConfig(`${base}workers: 256`).workers, 256);
  fails(`${base}workers: -1`, 'CONFIG_INVALID', 'workers');
  fails(`${base}workers: 1.5`, 'CONFIG_INVALID', 'workers');
  fails(`${base}workers: 257`, 'CONFIG_INVALID', 'workers');
});
