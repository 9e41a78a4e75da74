#!/usr/bin/env node
/**
 * What a heap holds, and what one heap holds more than another: V8 heap snapshots (taken with
 * --heapsnapshot-signal, scripts/profile-proxy.mjs phase `memory`) summed by kind of node
 * (an object's constructor name; strings, code, arrays… by type), self sizes only.
 *
 *   node scripts/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top 30]
 *   node scripts/heap-diff.mjs ONE.heapsnapshot                          (a summary of one heap)
 * --per N divides the growth by N (flows in that worker).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a, positionals } = parseArgs({ allowPositionals: true, options: { per: { type: 'string', default: '1' }, top: { type: 'string', default: '30' } } });

function summarise(path) {
  const snap = JSON.parse(readFileSync(path, 'utf8'));
  const meta = snap.snapshot.meta;
  const f = meta.node_fields;
  const types = meta.node_types[0];
  const [iType, iName, iSize] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  const n = f.length;
  const groups = new Map();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += n) {
    const type = types[snap.nodes[i + iType]];
    const size = snap.nodes[i + iSize];
    total += size;
    let key;
    if (type === 'object' || type === 'closure' || type === 'native') key = `${type === 'closure' ? 'closure ' : type === 'native' ? 'native ' : ''}${snap.strings[snap.nodes[i + iName]]}`;
    else if (type === 'hidden' || type === 'array' || type === 'code') key = `(${type}) ${snap.strings[snap.nodes[i + iName]].slice(0, 40)}`;
    else key = `(${type})`;
    const g = groups.get(key) ?? { count: 0, size: 0 };
    g.count++;
    g.size += size;
    groups.set(key, g);
  }
  return { total, groups };
}

const top = Number(a.top);
const per = Number(a.per);
if (positionals.length === 1) {
  const s = summarise(positionals[0]);
  console.log(`${positionals[0]}: ${(s.total / 1048576).toFixed(2)} MiB in the heap snapshot\n\n| kind | count | KiB |\n|---|---|---|`);
  for (const [k, g] of [...s.groups.entries()].sort((x, y) => y[1].size - x[1].size).slice(0, top)) console.log(`| ${k.replace(/\|/g, '\\|')} | ${g.count} | ${(g.size / 1024).toFixed(1)} |`);
} else {
  const [b, c] = positionals.map(summarise);
  const keys = new Set([...b.groups.keys(), ...c.groups.keys()]);
  const rows = [...keys].map((k) => {
    const x = b.groups.get(k) ?? { count: 0, size: 0 };
    const y = c.groups.get(k) ?? { count: 0, size: 0 };
    return { k, dc: y.count - x.count, ds: y.size - x.size };
  });
  console.log(`heap ${(b.total / 1048576).toFixed(2)} → ${(c.total / 1048576).toFixed(2)} MiB: +${((c.total - b.total) / per).toFixed(0)} B per unit (÷ ${per})\n`);
  console.log(`| kind | objects per unit | bytes per unit |\n|---|---|---|`);
  for (const r of rows.sort((x, y) => y.ds - x.ds).slice(0, top)) console.log(`| ${r.k.replace(/\|/g, '\\|')} | ${(r.dc / per).toFixed(2)} | ${(r.ds / per).toFixed(0)} |`);
}
