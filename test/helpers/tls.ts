/**
 * Throw-away X.509 material for tests, made with `openssl` (the machine's): a CA, an agent (server)
 * certificate for the given addresses, and a client certificate, all signed by that CA, plus a second
 * CA that signed nothing of ours (to show that a wrong CA is refused). Files in a fresh temp dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** a CA that signed none of the above */
  otherCaCert: string;
}

export const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

function makeLeaf(dir: string, name: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** `addresses`: the IP SANs of the agent's certificate; `names`: its DNS SANs. */
export function makeTestPki(addresses: string[], names: string[] = []): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  const san = [...addresses.map((a) => `IP:${a}`), ...names.map((n) => `DNS:${n}`)].join(',');
  makeLeaf(dir, 'agent', `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  makeLeaf(dir, 'controller', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'agent.crt'),
    serverKey: join(dir, 'agent.key'),
    clientCert: join(dir, 'controller.crt'),
    clientKey: join(dir, 'controller.key'),
    otherCaCert: join(dir, 'other-ca.crt'),
  };
}
