/**
 * The access-router agent over HTTP(S): `srv6pipes access-router` serves a LocalAccessRouter on a
 * management address (server.ts: its credentials and bounds); the controller talks to it through
 * HttpAccessRouter (request.ts), which implements the same AccessRouterAgent interface.
 *
 *   GET  /health            {"ok":true}
 *   GET  /bsids             installed BSIDs (ttlMs instead of expiresAt: the two clocks may differ)
 *   GET  /counters          the filter's drop counters
 *   GET  /stats             installed, in flight, the limits, refusals by code
 *   GET  /metrics           the same and more in Prometheus text (metrics.ts); no token needed
 *   POST /bsids/install     {bsid, source:{prefix,length}, segments[], ttlMs, key?}
 *   POST /bsids/remove      {bsid}
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { SrError } from '../core/errors.js';
import { isAddress } from '../net/ip6.js';
import type { AccessRouterAgent, AccessRouterCounters, BsidPolicy } from './api.js';
import type { AgentLimits } from './limits.js';
import { AgentMetrics } from './metrics.js';
import type { ReconcileStats } from './reconcile.js';
import { agentRequest, type AgentEndpoint } from './request.js';
import { startAgentServer, type AgentRoute, type AgentServer, type AgentTlsFiles } from './server.js';

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

/** An agent that can say how busy it is (LocalAccessRouter). */
export interface ServedAgent extends AccessRouterAgent {
  readonly limits: AgentLimits;
  stats(): { installed: number; inFlight: number };
}

export function agentRoutes(served: ServedAgent, rejected: () => ReadonlyMap<string, number>, reconcile?: () => ReconcileStats): AgentRoute[] {
  const metrics = new AgentMetrics(served, rejected, reconcile);
  const agent = metrics.counted(served);
  return [
    { method: 'GET', path: '/metrics', summary: 'Prometheus metrics', access: 'open', contentType: metrics.registry.contentType, handle: () => metrics.registry.metrics() },
    { method: 'GET', path: '/health', summary: 'liveness', handle: () => Promise.resolve({ ok: true, router: agent.name }) },
    { method: 'GET', path: '/bsids', summary: 'installed binding SIDs', handle: async () => (await agent.list()).map((p) => toWire(p, Date.now())) },
    { method: 'GET', path: '/counters', summary: 'drop counters', handle: () => agent.counters() },
    {
      method: 'GET',
      path: '/stats',
      summary: 'installed, in flight, limits, refusals',
      handle: () => Promise.resolve({ ...agent.stats(), limits: agent.limits, rejected: Object.fromEntries(rejected()) }),
    },
    {
      method: 'POST',
      path: '/bsids/install',
      summary: 'install or replace a binding SID',
      handle: async (body) => {
        await agent.install(fromWire(parse(wirePolicy, body), Date.now()));
        return { ok: true };
      },
    },
    {
      method: 'POST',
      path: '/bsids/remove',
      summary: 'remove a binding SID',
      handle: async (body) => {
        await agent.remove(parse(z.object({ bsid: addr }).strict(), body).bsid);
        return { ok: true };
      },
    },
  ];
}

export interface ServeAgentOptions {
  address: string;
  port: number;
  token?: string;
  tls?: AgentTlsFiles;
  log: Logger;
  /** the reconciler's counts (reconcile.ts), when the agent follows the store: exported as metrics */
  reconcile?: () => ReconcileStats;
}

/** Serves an agent; AGENT_NO_CREDENTIAL for a non-loopback address without a token or client CA. */
export async function serveAgent(agent: ServedAgent, o: ServeAgentOptions): Promise<AgentServer> {
  let server: AgentServer | undefined;
  server = await startAgentServer({ ...o, routes: agentRoutes(agent, () => server?.rejected ?? new Map(), o.reconcile), maxConnections: agent.limits.maxConnections });
  return server;
}

/** The controller's side: an AccessRouterAgent that is a remote `srv6pipes access-router`. */
export class HttpAccessRouter implements AccessRouterAgent {
  constructor(
    readonly name: string,
    private readonly ep: AgentEndpoint,
  ) {}

  private req(path: string, body?: unknown): Promise<unknown> {
    return agentRequest(this.ep, path, body);
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
