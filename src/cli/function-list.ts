/** `srv6pipes functions`: the built-ins as their descriptors describe them (sdk/describe.ts), as text. */
import type { FunctionInfo } from '../sdk/describe.js';
import { table } from './table.js';

function option(o: NonNullable<FunctionInfo['options']>[number]): string[] {
  const when = o.required ? '(required)' : o.default !== undefined ? `(default ${JSON.stringify(o.default)})` : '(optional)';
  return [o.name, o.type, when, o.description];
}

/** One block per function: summary, argument, options, reset reasons, requirements. */
export function formatFunctions(infos: readonly FunctionInfo[]): string {
  const blocks = infos.map((f) => {
    const lines = [`${f.name} — ${f.summary}`, `  argument: ${f.argument ?? '(not described)'}`];
    if (f.options === null) lines.push('  options: (not readable from its schema)');
    else if (f.options.length === 0) lines.push('  options: none');
    else lines.push('  options:', table(f.options.map(option), '    '));
    if (f.resets === null) lines.push('  resets: (not declared)');
    else if (Object.keys(f.resets).length === 0) lines.push('  resets: none of its own');
    else lines.push('  resets:', table(Object.entries(f.resets), '    '));
    for (const r of f.requires) lines.push(`  requires: ${r.name} — ${r.description}`);
    return lines.join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}
