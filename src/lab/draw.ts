/** A topology as a Graphviz graph (DOT): one box per host (its role, locators, interfaces with
 *  their addresses, services), one edge per link (its subnet and what the link emulates). Pure: `lab draw`
 *  prints it or renders it with Graphviz's `dot`. */
import type { Host, Link, Topology } from './topology.js';

const ROLE_STYLE: Record<Host['role'], string> = {
  host: 'shape=box, style="rounded,filled", fillcolor="#e8eef7"',
  router: 'shape=box, style=filled, fillcolor="#eeeeee"',
  proxy: 'shape=box, style="rounded,filled,bold", fillcolor="#fde3c8"',
};

/** A DOT string literal: quotes and backslashes escaped (names and addresses come from a file). */
function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function hostLabel(h: Host): string {
  const lines = [`${h.name} (${h.role})`];
  if (h.locators.length > 0) lines.push(`SIDs ${h.locators.join(', ')}`);
  for (const i of h.interfaces) lines.push(`${i.name} ${i.address}`);
  for (const s of h.services) lines.push(`runs ${s.name}`);
  if (h.kernelDefaults) lines.push('kernel defaults');
  return lines.join('\\n');
}

function linkLabel(l: Link): string {
  const shaping = [l.rate, l.delay && `${l.delay} delay`, l.loss && `${l.loss} loss`, l.mtu && `MTU ${l.mtu}`].filter(Boolean);
  return [l.net, ...shaping].join('\\n');
}

/** The topology as DOT (left to right, in the file's host order). */
export function topologyDot(t: Topology): string {
  const out = [`graph ${quote(t.name)} {`, '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];', `  label=${quote(`${t.name}: ${t.description}`)}; labelloc=t; fontname="Helvetica"; fontsize=12;`];
  for (const h of Object.values(t.hosts)) {
    // a label is escaped as a whole except the line breaks it means
    out.push(`  ${quote(h.name)} [${ROLE_STYLE[h.role]}, label=${quote(hostLabel(h)).replace(/\\\\n/g, '\\n')}];`);
  }
  for (const l of t.links) {
    const attrs = [`label=${quote(linkLabel(l)).replace(/\\\\n/g, '\\n')}`];
    if (l.delay || l.loss) attrs.push('style=dashed');
    out.push(`  ${quote(l.a.host)} -- ${quote(l.b.host)} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}
