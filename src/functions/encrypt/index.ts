/**
 * `encrypt`: the client end of an encryption tunnel. Upstream (client → server) is sealed into
 * authenticated records, downstream (server → client) opened; its partner `decrypt` does the
 * reverse. The argument is the key id, looked up in `options.keyring`. Anything wrong with incoming
 * records resets the flow, and no plaintext is delivered that did not authenticate. See README.md
 * and records.ts for the record format.
 */
import { z } from 'zod';
import { defineFunction, type ArgumentSpec, type CounterHandle, type FlowContext, type FlowTransforms, type SyncTransform, type FunctionEnv } from '../../sdk/types.js';
import { loadKeyring, MAX_KEY_ID, wipeKeyring, type Keyring } from './keyring.js';
import { CIPHERS, Opener, OpenError, Sealer, type Direction } from './records.js';

/** the reset reason when incoming records fail (tampering, wrong key, truncation, not a tunnel stream) */
export const AUTH_REASON = 'encrypt_auth_failed';

/** the reasons both tunnel ends reset a flow with */
export const CRYPTO_RESETS = { [AUTH_REASON]: 'incoming records failed to open (tampering, the wrong key, truncation, not a tunnel stream); nothing unauthenticated was delivered' };

/** The key a flow's argument names. */
export interface FlowKey {
  keyId: bigint;
  master: Buffer;
}

/** The argument of both tunnel ends: a key id of the keyring; any other value is rejected. */
export const KEY_ARGUMENT: ArgumentSpec<FlowKey, EncryptOptions, EncryptState> = {
  description: 'the key id: a key of the keyring (options.keyring); any other value is rejected',
  parse(keyId, { state, reject }) {
    const master = keyId <= MAX_KEY_ID ? state.keyring.keys.get(keyId) : undefined;
    if (!master) return reject(`names no key of the keyring ${state.keyring.path}`);
    return { keyId, master };
  },
};

export const encryptOptions = z
  .object({
    keyring: z.string().min(1).describe('the keyring file (YAML or JSON), relative to the config file'),
    cipher: z.enum(CIPHERS).default('aes-256-gcm').describe('the AEAD this end seals with (either is accepted when opening)'),
  })
  .strict();

export type EncryptOptions = z.infer<typeof encryptOptions>;

export interface EncryptState {
  keyring: Keyring;
  failures: CounterHandle;
}

export async function initEncryptState(o: EncryptOptions, env: FunctionEnv): Promise<EncryptState> {
  const keyring = await loadKeyring(o.keyring, env.baseDir);
  if (keyring.warning) env.log.warn(keyring.warning);
  return { keyring, failures: env.metrics.counter('encrypt_failures_total', 'flows reset by the encryption tunnel, by reason', ['reason']) };
}

export function deinitEncryptState(s: EncryptState): void {
  wipeKeyring(s.keyring);
}

/** Both directions of a tunnel end: `seals` is the direction that is encrypted; the other is opened. */
export function spawnCryptoTunnel(flow: FlowContext<EncryptOptions, EncryptState, FlowKey>, seals: Direction): FlowTransforms {
  const { failures } = flow.state;
  const { keyId, master } = flow.arg;
  const opens: Direction = seals === 'upstream' ? 'downstream' : 'upstream';
  const sealer = new Sealer(flow.options.cipher, master, keyId, seals);
  const opener = new Opener(master, keyId, opens);
  let failed = false;
  const guard = (step: () => Buffer | null): Buffer | null => {
    if (failed) return null;
    try {
      return step();
    } catch (e) {
      if (!(e instanceof OpenError)) throw e;
      failed = true;
      failures.inc({ reason: AUTH_REASON });
      flow.log.warn({ direction: opens, keyId: keyId.toString(), error: e.message }, 'encrypt: incoming records failed, resetting the flow');
      flow.reset(AUTH_REASON);
      return null;
    }
  };
  const open: SyncTransform = { data: (c) => guard(() => opener.data(c)), end: () => guard(() => opener.end()) };
  const seal: SyncTransform = { data: (c) => sealer.data(c), end: () => sealer.end() };
  return {
    upstream: seals === 'upstream' ? seal : open,
    downstream: seals === 'upstream' ? open : seal,
    close: () => {
      sealer.wipe();
      opener.wipe();
    },
  };
}

export const encrypt = defineFunction({
  name: 'encrypt',
  summary: 'encryption tunnel, client end: seal upstream, open downstream in AEAD records',
  options: encryptOptions,
  argument: KEY_ARGUMENT,
  resets: CRYPTO_RESETS,
  init: initEncryptState,
  deinit: deinitEncryptState,
  spawn: (flow) => spawnCryptoTunnel(flow, 'upstream'),
});
