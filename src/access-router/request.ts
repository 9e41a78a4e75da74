/**
 * The controller's side of the wire: one JSON request to an agent over HTTP or HTTPS (a CA file to
 * verify the agent, optionally a client certificate for mutual TLS), with its bearer token — the
 * shared client of sys/http-json.ts with the agent's endpoint form and codes. The agent's refusals
 * come back as SrErrors with the agent's code; anything else as AGENT_UNREACHABLE.
 */
import { jsonRequest, MAX_RESPONSE, type EndpointGrammar, type JsonTls } from '../sys/http-json.js';

/** the CA that signed the agent's certificate, the controller's certificate and key for mutual TLS, the name to check */
export type AgentTlsClient = JsonTls;

export interface AgentEndpoint {
  /** ADDR:PORT or [ADDR]:PORT */
  endpoint: string;
  token?: string;
  tls?: AgentTlsClient;
  /** the whole request (default 5000 ms) */
  timeoutMs?: number;
}

/** How an agent endpoint is written (`nodes.accessRouters[].agent.endpoint`): `[ADDR]:PORT`, `IPv4:PORT`, `name:PORT`. */
export const AGENT_ENDPOINT: EndpointGrammar = { what: 'agent', code: 'CONFIG_INVALID', hint: 'write [ADDR]:PORT, e.g. [fc00:9::1]:7780' };

export function agentRequest(ep: AgentEndpoint, path: string, body?: unknown): Promise<unknown> {
  return jsonRequest(ep.endpoint, path, body, {
    grammar: AGENT_ENDPOINT,
    unreachable: 'AGENT_UNREACHABLE',
    timeoutMs: ep.timeoutMs ?? 5000,
    maxResponseBytes: MAX_RESPONSE,
    refusalPrefix: `agent ${ep.endpoint}: `,
    ...(ep.token !== undefined ? { token: ep.token } : {}),
    ...(ep.tls !== undefined ? { tls: ep.tls } : {}),
  });
}
