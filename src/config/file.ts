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

/**
 * Parses YAML text; CONFIG_SYNTAX as one line, `SOURCE:LINE:COLUMN: what the parser says`, and a hint
 * quoting the line (the parser's own message ends in `at line 3, column 1:` and a drawing of it).
 */
export function parseYamlText(text: string, source: string): unknown {
  try {
    return yamlParser().parse(text, { prettyErrors: true });
  } catch (e) {
    throw yamlSyntaxError(e, text, source);
  }
}

function yamlSyntaxError(e: unknown, text: string, source: string): SrError {
  const first = e instanceof Error ? e.message.split('\n')[0]! : String(e);
  const what = first.replace(/ at line \d+, column \d+:?$/, '').replace(/[.:]$/, '');
  const pos = (e as { linePos?: { line: number; col: number }[] }).linePos?.[0];
  if (!pos) return new SrError('CONFIG_SYNTAX', `${source}: ${what}`);
  const lines = text.split(/\r?\n/);
  const line = lines[pos.line - 1];
  const shown = line === undefined || (pos.line >= lines.length && pos.col > line.length) ? 'the end of the file' : `line ${pos.line} is ${JSON.stringify(line.length > 80 ? `${line.slice(0, 77)}...` : line)}`;
  return new SrError('CONFIG_SYNTAX', `${source}:${pos.line}:${pos.col}: ${what}`, { hint: `${shown}; the file must be YAML (JSON is YAML too)` });
}

/** Reads a config file as text; CONFIG_READ naming the path. */
export function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new SrError('CONFIG_READ', `cannot read ${path}: ${(e as Error).message}`);
  }
}
