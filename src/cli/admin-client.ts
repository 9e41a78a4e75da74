/**
 * How `srv6pipes ctl|flows|stats|metrics` reach a running proxy: `--socket PATH` (the privileged Unix
 * socket), `--admin ADDR:PORT` (TCP, default 127.0.0.1:7778) with `--token-file FILE`, or
 * `--config proxy.yaml` to take both from the proxy's `admin` section. Flags given override the config.
 */
import { SrError } from '../core/errors.js';
import type { JsonTarget } from '../sys/http-json.js';
import { text } from './options.js';
import type { OptionValues } from './spec.js';

export const DEFAULT_ADMIN = '127.0.0.1:7778';

export const ADMIN_OPTIONS = {
  admin: text('--admin <addr:port>', `the proxy admin endpoint over TCP (default ${DEFAULT_ADMIN})`),
  socket: text('--socket <path>', 'the proxy admin endpoint’s Unix socket (admin.socket)'),
  tokenFile: text('--token-file <file>', 'a file holding the admin bearer token (admin.tokenFile)'),
  config: text('-c, --config <file>', 'the proxy’s config file: take the endpoint and credential from its admin section'),
};

/** How a command names the admin endpoint. */
export type AdminOptions = OptionValues<typeof ADMIN_OPTIONS>;

export interface AdminClient {
  target: JsonTarget;
  token?: string;
}

/** The endpoint and credential the options name. */
export async function adminClient(opts: AdminOptions): Promise<AdminClient> {
  let target: JsonTarget | undefined;
  let tokenFile = opts.tokenFile;
  const config = opts.config;
  if (config !== undefined) {
    const { loadProxyConfig } = await import('../proxy/config.js');
    const { adminClientOf } = await import('../proxy/admin-config.js');
    const cfg = loadProxyConfig(config);
    if (!cfg.admin) throw new SrError('BAD_ARGUMENT', `${config} has \`admin: off\`: the proxy serves no admin endpoint`);
    const fromConfig = adminClientOf(cfg.admin);
    target = fromConfig.target;
    tokenFile ??= fromConfig.tokenFile ?? undefined;
  }
  const { socket, admin } = opts;
  if (socket !== undefined) target = { socket };
  else if (admin !== undefined) target = admin;
  target ??= DEFAULT_ADMIN;
  if (tokenFile === undefined || typeof target !== 'string') return { target };
  const { readToken } = await import('../proxy/admin-config.js');
  return { target, token: readToken(tokenFile, false) };
}

/** A request through the options' endpoint and credential. */
export async function adminCall(opts: AdminOptions, path: string, body?: unknown): Promise<unknown> {
  const [{ adminRequest }, c] = await Promise.all([import('../proxy/admin.js'), adminClient(opts)]);
  return adminRequest(c.target, path, body, c.token !== undefined ? { token: c.token } : {});
}
