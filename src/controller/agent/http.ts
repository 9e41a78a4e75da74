/**
 * The access-router agent over HTTP: `srv6pipes access-router` serves a LocalAccessRouter on a
 * management address (optionally behind a bearer token); the controller talks to it through
 * HttpAccessRouter, which implements the same AccessRouterAgent interface.
 *
 *   GET  /health            {"ok":true}
 *   GET  /bsids             installed BSIDs (ttlMs instead of expiresAt: the two clocks may differ)
 *   GET  /counters          the filter's drop counters
 *   POST /bsids/install     {bsid, source:{prefix,length}, segments[], ttlMs, key?}
 *   POST /bsids/remove      {bsid}
 */
import type http from 'node:http';
import { z } from 'zod';
import { SrError } from '../../errors.js';
import { isAddress } from '../../net/ip6.js';
import { adminRequest, startAdmin, type AdminRoute } from '../../proxy/admin.js';
import type { AccessRouterAgent, AccessRouterCounters, BsidPolicy } from '../access-router.js';

const addr = z.string().refine(isAddress, 'an IPv6 address');
const wirePolicy = z
  .object({
    bsid: addr,
    source: z.object({ prefix: addr, length: z.number().int().min(0).max(128) }).strict(),
    segments: z.array(addr).min(1).max(126),
    ttlMs: z.number().int().min(0).max(7 * 24 * 3600 * 1000),
    key: z.string().max(512).optional(),
  })
  .strict();
type WirePolicy = z.infer<typeof wirePolicy>;

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new SrError('BAD_ARGUMENT', `bad request: ${i.path.join('.') || 'body'}: ${i.message}`);
  }
  return r.data;
}

const toWire = (p: BsidPolicy, now: number): WirePolicy => ({ bsid: p.bsid, source: p.source, segments: p.segments, ttlMs: Math.max(0, p.expiresAt - now), ...(p.key !== undefined ? { key: p.key } : {}) });
const fromWire = (w: WirePolicy, now: number): BsidPolicy => ({ bsid: w.bsid, source: w.source, segments: w.segments, expiresAt: now + w.ttlMs, ...(w.key !== undefined ? { key: w.key } : {}) });

export function agentRoutes(agent: AccessRouterAgent): AdminRoute[] {
  return [
    { method: 'GET', path: '/health', summary: 'liveness', handle: () => Promise.resolve({ body: { ok: true, router: agent.name } }) },
    { method: 'GET', path: '/bsids', summary: 'installed binding SIDs', handle: async () => ({ body: (await agent.list()).map((p) => toWire(p, Date.now())) }) },
    { method: 'GET', path: '/counters', summary: 'drop counters', handle: async () => ({ body: await agent.counters() }) },
    {
      method: 'POST',
      path: '/bsids/install',
      summary: 'install or replace a binding SID',
      handle: async (body) => {
        await agent.install(fromWire(parse(wirePolicy, body), Date.now()));
        return { body: { ok: true } };
      },
    },
    {
      method: 'POST',
      path: '/bsids/remove',
      summary: 'remove a binding SID',
      handle: async (body) => {
        await agent.remove(parse(z.object({ bsid: addr }).strict(), body).bsid);
        return { body: { ok: true } };
      },
    },
  ];
}

export function serveAgent(agent: AccessRouterAgent, address: string, port: number, token?: string): Promise<http.Server> {
  return startAdmin(address, port, agentRoutes(agent), token !== undefined ? { token } : {});
}

/** The controller's side: an AccessRouterAgent that is a remote `srv6pipes access-router`. */
export class HttpAccessRouter implements AccessRouterAgent {
  constructor(
    readonly name: string,
    /** ADDR:PORT or [ADDR]:PORT of the agent */
    private readonly endpoint: string,
    private readonly token?: string,
    private readonly timeoutMs = 5000,
  ) {}

  private req(path: string, body?: unknown): Promise<unknown> {
    return adminRequest(this.endpoint, path, body, { ...(this.token !== undefined ? { token: this.token } : {}), timeoutMs: this.timeoutMs });
  }

  async install(policy: BsidPolicy): Promise<void> {
    await this.req('/bsids/install', toWire(policy, Date.now()));
  }

  async remove(bsid: string): Promise<void> {
    await this.req('/bsids/remove', { bsid });
  }

  async list(): Promise<BsidPolicy[]> {
    const body = await this.req('/bsids');
    return parse(z.array(wirePolicy), body).map((w) => fromWire(w, Date.now()));
  }

  async counters(): Promise<AccessRouterCounters> {
    return parse(z.object({ unknownBsid: z.number(), unauthorised: z.number(), notBsid: z.number() }), await this.req('/counters'));
  }
}
