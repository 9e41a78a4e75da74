/**
 * `decrypt`: the server end of an encryption tunnel. Upstream (client → server) is opened,
 * downstream (server → client) sealed: the partner of `encrypt`, with the same key id (argument) and
 * a keyring holding the same key. See ../encrypt/README.md for the record format.
 */
import { defineFunction } from '../../sdk/types.js';
import { CRYPTO_RESETS, deinitEncryptState, encryptOptions, initEncryptState, KEY_ARGUMENT, spawnCryptoTunnel } from '../encrypt/index.js';

export { AUTH_REASON } from '../encrypt/index.js';

export const decrypt = defineFunction({
  name: 'decrypt',
  summary: 'encryption tunnel, server end: open upstream, seal downstream in AEAD records',
  options: encryptOptions,
  argument: KEY_ARGUMENT,
  resets: CRYPTO_RESETS,
  init: initEncryptState,
  deinit: deinitEncryptState,
  spawn: (flow) => spawnCryptoTunnel(flow, 'downstream'),
});
