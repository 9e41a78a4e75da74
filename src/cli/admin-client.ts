/**
 * How `srv6pipes ctl|flows|stats|metrics` reach a running proxy: `--socket PATH` (the privileged Unix
 * socket), `--admin ADDR:PORT` (TCP, default 127.0.0.1:7778) with `--token-file FILE`, or
 * `--config proxy.yaml` to take both from the proxy's `admin` section. Flags given override the config.
 */
import { SrError } from '../core/errors.js';
import type { AdminTarget } from '../proxy/admin.js';
import type { OptionSpec } from './spec.js';

export const DEFAULT_ADMIN = '127.0.0.1:7778';

export const ADMIN_OPTIONS: OptionSpec[] = [
  { flags: '--admin <addr:port>', description: `the proxy admin endpoint over TCP (default ${DEFAULT_ADMIN})` },
  { flags: '--socket <path>', description: 'the proxy admin endpoint’s Unix socket (admin.socket)' },
  { flags: '--token-file <file>', description: 'a file holding the admin bearer token (admin.tokenFile)' },
  { flags: '-c, --config <file>', description: 'the proxy’s config file: take the endpoint and credential from its admin section' },
];

export interface AdminClient {
  target: AdminTarget;
  token?: string;
}

/** The endpoint and credential the options name. */
export async function adminClient(opts: Record<string, unknown>): Promise<AdminClient> {
  const str = (k: string): string | undefined => (typeof opts[k] === 'string' ? (opts[k] as string) : undefined);
  let target: AdminTarget | undefined;
  let tokenFile = str('tokenFile');
  const config = str('config');
  if (config !== undefined) {
    const { loadProxyConfig } = await import('../proxy/config.js');
    const { adminClientOf } = await import('../proxy/admin-config.js');
    const cfg = loadProxyConfig(config);
    if (!cfg.admin) throw new SrError('BAD_ARGUMENT', `${config} has \`admin: off\`: the proxy serves no admin endpoint`);
    const fromConfig = adminClientOf(cfg.admin);
    target = fromConfig.target;
    tokenFile ??= fromConfig.tokenFile ?? undefined;
  }
  const socket = str('socket');
  const admin = str('admin');
  if (socket !== undefined) target = { socket };
  else if (admin !== undefined) target = admin;
  target ??= DEFAULT_ADMIN;
  if (tokenFile === undefined || typeof target !== 'string') return { target };
  const { readToken } = await import('../proxy/admin-config.js');
  return { target, token: readToken(tokenFile, false) };
}

/** A request through the options' endpoint and credential. */
export async function adminCall(opts: Record<string, unknown>, path: string, body?: unknown): Promise<unknown> {
  const [{ adminRequest }, c] = await Promise.all([import('../proxy/admin.js'), adminClient(opts)]);
  return adminRequest(c.target, path, body, c.token !== undefined ? { token: c.token } : {});
}
