import assert from 'node:assert/strict';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import { isSrError } from '../core/errors.js';
import { responder } from '../dns/test-responder.js';
import { resolveAndConnect } from './resolve.js';

/** A controller that answers every query with this rcode (and these AAAA addresses). */
async function controller(rcode: number, addresses: string[] = []) {
  return responder('::1', (q, _t, reply) =>
    reply(
      dnsPacket.encode({
        type: 'response',
        id: q.id!,
        flags: rcode,
        questions: q.questions!,
        answers: addresses.map((data) => ({ name: q.questions![0]!.name, type: 'AAAA' as const, class: 'IN' as const, ttl: 5, data })),
      }),
    ),
  );
}

test('resolveAndConnect: a refusal is an SrError DNS_REFUSED, NXDOMAIN DNS_NXDOMAIN, no AAAA DNS_NODATA (typed, with hints)', async () => {
  for (const [rcode, code] of [[5, 'DNS_REFUSED'], [3, 'DNS_NXDOMAIN'], [2, 'DNS_SERVFAIL'], [0, 'DNS_NODATA']] as const) {
    const c = await controller(rcode);
    try {
      await assert.rejects(resolveAndConnect({ name: 'denied.lab.example', port: 9000, controller: `[::1]:${c.port}` }), (e: unknown) => {
        assert.ok(isSrError(e, code), `rcode ${rcode}: ${String(e)}`);
        assert.equal(e.kind, 'input');
        assert.match(e.message, /^denied\.lab\.example: /);
        return true;
      });
    } finally {
      await c.close();
    }
  }
});
