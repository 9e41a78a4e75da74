/**
 * The example configs in the package's `examples/` folder (proxy, controller, the labs' proxies):
 * YAML files that the demo, the tests, the fuzzer and the docs share. Found from the package root,
 * as src/core/version.ts finds package.json, so that they are there when running from dist/ or from
 * an installed package (package.json "files" lists them).
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readConfigText } from './file.js';

/** The package's examples/ directory (this file is dist/src/config/examples.js). */
export const EXAMPLES_DIR = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** The path of an example, e.g. examplePath('controller.yaml'). */
export function examplePath(name: string): string {
  return `${EXAMPLES_DIR}${name}`;
}

/** The text of an example; CONFIG_READ when it is missing. */
export function readExample(name: string): string {
  return readConfigText(examplePath(name));
}

/** Every example config (the YAML files of examples/), sorted. */
export function exampleNames(): string[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((n) => n.endsWith('.yaml'))
    .sort();
}
