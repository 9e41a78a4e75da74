import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { topologyDot } from './draw.js';
import { builtinTopologies, loadTopology, parseTopology } from './load.js';

test('every host is a node and every link an edge with both ends\' addresses (fig1)', () => {
  const t = loadTopology('fig1');
  const dot = topologyDot(t);
  for (const h of Object.keys(t.hosts)) assert.match(dot, new RegExp(`^  "${h}" \\[`, 'm'));
  assert.match(dot, /"client" -- "p1" \[label="fc00:1::\/64"\]/);
  assert.match(dot, /"p1" \[.*label="p1 \(proxy\)\\nSIDs fc00:a::\/80\\neth0 fc00:1::1\\neth1 fc00:12::1"\]/);
  assert.equal(dot.split('\n').filter((l) => l.includes(' -- ')).length, t.links.length);
});

test('names and descriptions cannot break out of a DOT string', () => {
  const t = parseTopology(
    ['name: q', 'description: "a \\"quoted\\" one"', 'hosts:', '  a: { role: host }', '  b: { role: router }', 'links:', '  - { a: [a, "fc00:1::1/64"], b: [b, "fc00:1::2/64"], delay: 5ms, loss: 1% }'].join('\n'),
    'inline',
  );
  const dot = topologyDot(t);
  assert.match(dot, /label="q: a \\"quoted\\" one"/);
  assert.match(dot, /label="fc00:1::\/64\\n5ms delay\\n1% loss", .*style=dashed/);
});

test('docs/pictures holds the current drawing of every built-in topology (redraw: npm run pictures)', () => {
  for (const b of builtinTopologies()) {
    const file = fileURLToPath(new URL(`../../../docs/pictures/${b.name}.dot`, import.meta.url));
    assert.equal(readFileSync(file, 'utf8'), topologyDot(loadTopology(b.name)), `docs/pictures/${b.name}.dot is stale: run npm run pictures`);
  }
});
