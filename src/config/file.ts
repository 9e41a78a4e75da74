/** Reading a YAML (or JSON) configuration file, with the errors every config loader shares. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type YAML from 'yaml';
import { SrError } from '../core/errors.js';

const require = createRequire(import.meta.url);
let yaml: typeof YAML | undefined;

/**
 * The YAML parser, loaded on the first parse: a proxy worker validates its config from JSON and never
 * parses YAML, so it does not carry the parser (docs/performance.md, "Issue 14: memory per worker").
 */
function yamlParser(): typeof YAML {
  return (yaml ??= require('yaml') as typeof YAML);
}

/** Parses YAML text; CONFIG_SYNTAX naming the source and the first line of the parser's message. */
export function parseYamlText(text: string, source: string): unknown {
  try {
    return yamlParser().parse(text, { prettyErrors: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new SrError('CONFIG_SYNTAX', `${source}: ${msg}`);
  }
}

/** Reads a config file as text; CONFIG_READ naming the path. */
export function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new SrError('CONFIG_READ', `cannot read ${path}: ${(e as Error).message}`);
  }
}
