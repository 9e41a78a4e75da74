/**
 * What `srv6pipes_build_info` says (the proxy's, the controller's and the agent's /metrics): the
 * package version, Node's, and where the native addon comes from — `built` (build/Release: a clone
 * after setup, or an install that compiled), `prebuilt` (prebuilds/ in the package), or `missing`.
 */
import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../core/version.js';

/** Which binary node-gyp-build would load (as src/native/addon.ts does), without loading it. */
export function nativeOrigin(): 'built' | 'prebuilt' | 'missing' {
  try {
    // the package's root: dist/src/sys/ is three levels down
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const { resolve } = createRequire(import.meta.url)('node-gyp-build') as { resolve(dir: string): string };
    return resolve(root).includes(`${sep}prebuilds${sep}`) ? 'prebuilt' : 'built';
  } catch {
    return 'missing';
  }
}

let origin: ReturnType<typeof nativeOrigin> | undefined;

/** The labels of `srv6pipes_build_info` (its value is always 1). */
export function buildInfo(): { version: string; node: string; native: string } {
  return { version: VERSION, node: process.versions.node, native: (origin ??= nativeOrigin()) };
}

export const BUILD_INFO_HELP = 'always 1: the version of srv6pipes, of Node, and where the native addon came from (built, prebuilt, missing)';
