/** Reading topologies: YAML text, files, and the built-ins in ./topologies/ (fig1, fig5, chain3). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { SrError } from '../core/errors.js';
import { validateTopology, type Topology } from './topology.js';

const BUILTIN_DIR = fileURLToPath(new URL('./topologies/', import.meta.url));

/** Parses YAML (JSON is YAML too) and validates it. */
export function parseTopology(text: string, source = 'topology'): Topology {
  let doc: unknown;
  try {
    doc = YAML.parse(text, { prettyErrors: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new SrError('TOPOLOGY_INVALID', `${source}: not YAML: ${msg}`, { hint: 'quote addresses that end in "::"' });
  }
  return validateTopology(doc, source);
}

/** The built-in topologies: name and description, sorted by name. */
export function builtinTopologies(): { name: string; description: string; path: string }[] {
  return readdirSync(BUILTIN_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const path = BUILTIN_DIR + f;
      const t = parseTopology(readFileSync(path, 'utf8'), path);
      return { name: f.slice(0, -5), description: t.description, path };
    });
}

/** A built-in name (fig1, fig5, chain3: no "/" and no ".") or a file path. */
export function loadTopology(nameOrPath: string): Topology {
  if (!/[/.]/.test(nameOrPath)) {
    const path = `${BUILTIN_DIR}${nameOrPath}.yaml`;
    if (!existsSync(path)) {
      const names = builtinTopologies().map((b) => b.name);
      throw new SrError('TOPOLOGY_INVALID', `no built-in topology "${nameOrPath}" (built-in: ${names.join(', ')})`, {
        hint: 'give a built-in name or the path of a YAML file',
      });
    }
    return parseTopology(readFileSync(path, 'utf8'), nameOrPath);
  }
  let text: string;
  try {
    text = readFileSync(nameOrPath, 'utf8');
  } catch (e) {
    throw new SrError('TOPOLOGY_INVALID', `cannot read ${nameOrPath}: ${(e as Error).message}`, { hint: 'check the path' });
  }
  return parseTopology(text, nameOrPath);
}
