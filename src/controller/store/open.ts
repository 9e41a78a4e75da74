/**
 * An etcd client for `store.etcd` (config.ts): TLS files and the user's password read from their
 * files, never from the command line. Used by the access-router agent's reconciler; the
 * controller's own store opens the same way.
 */
import { readPem, readTokenFile } from '../../access-router/credentials.js';
import type { EtcdConnection } from '../../config/store.js';
import { EtcdClient } from './etcd-client.js';

export function etcdClientOf(e: EtcdConnection): EtcdClient {
  return new EtcdClient({
    endpoints: e.endpoints,
    timeoutMs: e.timeoutMs,
    ...(e.tls ? { tls: { ca: readPem(e.tls.ca, 'store.etcd.tls.ca'), ...(e.tls.cert ? { cert: readPem(e.tls.cert, 'store.etcd.tls.cert'), key: readPem(e.tls.key!, 'store.etcd.tls.key') } : {}) } } : {}),
    ...(e.username && e.passwordFile ? { auth: { username: e.username, password: readTokenFile(e.passwordFile, 'store.etcd.passwordFile') } } : {}),
  });
}
