import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { AcceptFailures, Admission, clientKey, workerShare } from './admission.js';
import { validateProxyConfig } from './config.js';

const base = { locators: [{ prefix: 'fc00:a::/80' }], functions: [{ id: 1, function: 'copy' }] };
const limitsOf = (limits?: unknown) => validateProxyConfig(limits === undefined ? base : { ...base, limits }).limits;

test('limits: defaults (10000 flows, 1000 per /64 client, no per-function cap, nofile auto)', () => {
  assert.deepEqual(limitsOf(), { flows: 10_000, flowsPerClient: 1000, clientPrefix: 64, perFunction: null, nofile: 'auto' });
});

test('limits: validated (zero, unknown keys, bad ids are CONFIG_INVALID with the field named)', () => {
  for (const [bad, field] of [
    [{ flows: 0 }, 'limits.flows'],
    [{ flowsPerClient: -1 }, 'limits.flowsPerClient'],
    [{ clientPrefix: 129 }, 'limits.clientPrefix'],
    [{ perFunction: { x: 3 } }, 'limits.perFunction'],
    [{ nofile: 3 }, 'limits.nofile'],
    [{ flow: 3 }, 'limits'],
  ] as const) {
    assert.throws(() => limitsOf(bad), (e: Error & { code?: string }) => e.code === 'CONFIG_INVALID' && e.message.includes(field), JSON.stringify(bad));
  }
});

test('workerShare: ceil(limit / workers), at least 1', () => {
  assert.equal(workerShare(10_000, 2), 5000);
  assert.equal(workerShare(10, 3), 4);
  assert.equal(workerShare(1, 8), 1);
});

test('clientKey: /64 by default groups a host’s addresses; v4-mapped counted per address; zones ignored', () => {
  assert.equal(clientKey('fc00:1::1', 64), clientKey('fc00:1::ffff:2', 64));
  assert.notEqual(clientKey('fc00:1::1', 64), clientKey('fc00:1:0:1::1', 64));
  assert.notEqual(clientKey('fc00:1::1', 128), clientKey('fc00:1::2', 128));
  assert.equal(clientKey('fc00:1::1', 60), clientKey('fc00:1:0:f::1', 60));
  assert.notEqual(clientKey('::ffff:10.0.0.1', 64), clientKey('::ffff:10.0.0.2', 64));
  assert.equal(clientKey('fe80::1%br-lan', 64), clientKey('fe80::2', 64));
  assert.equal(clientKey('not an address', 64), 'not an address');
});

test('Admission: flows, per client and per function caps (worker share), release frees, release is idempotent', () => {
  const a = new Admission({ flows: 4, flowsPerClient: 2, clientPrefix: 64, perFunction: { '7': 1 }, nofile: 'auto' }, 1);
  const x1 = a.admit('fc00:1::1', 1);
  const x2 = a.admit('fc00:1::2', 1);
  assert.ok(x1.ok && x2.ok);
  const x3 = a.admit('fc00:1::3', 1);
  assert.equal(x3.ok ? 'ok' : x3.code, 'FLOW_CLIENT_LIMIT');
  const y1 = a.admit('fc00:2::1', 7);
  assert.ok(y1.ok);
  const y2 = a.admit('fc00:3::1', 7);
  assert.equal(y2.ok ? 'ok' : y2.code, 'FUNCTION_LIMIT');
  const z = a.admit('fc00:4::1', 1);
  assert.ok(z.ok);
  const over = a.admit('fc00:5::1', 1);
  assert.equal(over.ok ? 'ok' : over.code, 'FLOW_LIMIT');
  x1.release();
  x1.release();
  assert.deepEqual(a.counts, { flows: 3, clients: 3, functions: 2 });
  assert.ok(a.admit('fc00:1::3', 1).ok, 'the client has room again');
  for (const r of [x2, y1, z]) if (r.ok) r.release();
  assert.deepEqual(a.counts, { flows: 1, clients: 1, functions: 1 });
});

test('Admission: the descriptor cap refuses with NOFILE_LIMIT when it binds before limits.flows', () => {
  const a = new Admission({ flows: 4, flowsPerClient: 10, clientPrefix: 64, perFunction: null, nofile: 'auto' }, 1);
  a.fdCap = 1;
  assert.ok(a.admit('fc00:1::1', 1).ok);
  const r = a.admit('fc00:1::2', 1);
  assert.equal(r.ok ? 'ok' : r.code, 'NOFILE_LIMIT');
  a.fdCap = 100;
  for (let i = 0; i < 3; i++) assert.ok(a.admit('fc00:1::1', 1).ok);
  const t = a.admit('fc00:1::2', 1);
  assert.equal(t.ok ? 'ok' : t.code, 'FLOW_LIMIT');
});

test('Admission: a proxy-wide limit is split over the workers', () => {
  const a = new Admission({ flows: 10, flowsPerClient: 10, clientPrefix: 64, perFunction: 6, nofile: 'auto' }, 3);
  const got = Array.from({ length: 5 }, (_, i) => a.admit(`fc00:${i}::1`, 1));
  assert.deepEqual(got.map((g) => (g.ok ? 'ok' : g.code)), ['ok', 'ok', 'FUNCTION_LIMIT', 'FUNCTION_LIMIT', 'FUNCTION_LIMIT']);
  const b = new Admission({ flows: 10, flowsPerClient: 10, clientPrefix: 64, perFunction: null, nofile: 'auto' }, 3);
  const all = Array.from({ length: 5 }, (_, i) => b.admit(`fc00:${i}::1`, 1));
  assert.deepEqual(all.map((g) => (g.ok ? 'ok' : g.code)), ['ok', 'ok', 'ok', 'ok', 'FLOW_LIMIT']);
});

test('AcceptFailures: accept errors recognised; one log line per period with the count since the last', () => {
  assert.ok(AcceptFailures.isAcceptError(Object.assign(new Error('x'), { code: 'EMFILE', syscall: 'accept' })));
  assert.ok(!AcceptFailures.isAcceptError(Object.assign(new Error('x'), { code: 'EADDRINUSE', syscall: 'listen' })));
  assert.ok(!AcceptFailures.isAcceptError(null));
  const f = new AcceptFailures(1000);
  assert.deepEqual(f.record('EMFILE', 0), { code: 'EMFILE', failures: 1, total: 1 });
  assert.equal(f.record('EMFILE', 10), null);
  assert.equal(f.record('EMFILE', 999), null);
  assert.deepEqual(f.record('ENFILE', 1000), { code: 'ENFILE', failures: 3, total: 4 });
});

test('clientKey: the same key as the ipaddr.js validate-parse-format it replaced, for any address, prefix and text form', () => {
  const reference = (address: string, bits: number): string => {
    const t = address.replace(/%.*$/, '').replace(/^\[|\]$/g, '');
    if (!ipaddr.IPv6.isValid(t)) return address;
    const v6 = ipaddr.IPv6.parse(t);
    const bytes = v6.toByteArray();
    const keep = v6.isIPv4MappedAddress() ? 128 : bits;
    for (let i = 0; i < 16; i++) {
      const left = keep - i * 8;
      if (left <= 0) bytes[i] = 0;
      else if (left < 8) bytes[i]! &= (0xff << (8 - left)) & 0xff;
    }
    return `${ipaddr.fromByteArray(bytes).toString()}/${keep}`;
  };
  const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  const bytes = fc.oneof(
    fc.array(group, { minLength: 8, maxLength: 8 }).map((gs) => gs.flatMap((g) => [g >> 8, g & 0xff])),
    fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }).map((v4) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]),
  );
  const text = fc.tuple(bytes, fc.constantFrom('plain', 'bracketed', 'zoned', 'v4-dotted')).map(([b, form]) => {
    const a = ipaddr.fromByteArray(b) as ipaddr.IPv6;
    if (form === 'bracketed') return `[${a.toString()}]`;
    if (form === 'zoned') return `${a.toString()}%eth0`;
    if (form === 'v4-dotted' && a.isIPv4MappedAddress()) return `::ffff:${a.toIPv4Address().toString()}`;
    return a.toString();
  });
  const junk = fc.constantFrom('not an address', '10.0.0.1', '', ':', 'fc00::1::2', 'fc00::g');
  fc.assert(fc.property(fc.oneof(text, junk), fc.integer({ min: 0, max: 128 }), (a, bits) => clientKey(a, bits) === reference(a, bits)), { numRuns: 3000 });
});

test('Admission with workers: 0: the one process holds the whole limits, and its refusals say so', () => {
  const a = new Admission({ flows: 3, flowsPerClient: 10, clientPrefix: 64, perFunction: null, nofile: 'auto' }, 0);
  for (let i = 0; i < 3; i++) assert.ok(a.admit(`fc00:${i + 1}::1`, 1).ok);
  const r = a.admit('fc00:9::1', 1);
  assert.equal(r.ok ? 'ok' : r.code, 'FLOW_LIMIT');
  assert.match(r.ok ? '' : r.reason, /limits\.flows 3 over 1 worker\(s\)$/);
});
