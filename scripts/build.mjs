#!/usr/bin/env node
// Builds the TypeScript and the assets tsc does not copy (the built-in lab topologies).
//   node scripts/build.mjs            the development build: sources and tests, source maps, incremental
//   node scripts/build.mjs --pack     the package's build (npm pack / publish, from `prepack`): a clean
//                                     dist/ with the sources only — no tests, maps or build state
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pack = process.argv.includes('--pack');

if (pack) rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, pack ? 'tsconfig.pack.json' : 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// assets: the built-in lab topologies beside the compiled lab module
const from = join(root, 'src/lab/topologies');
const to = join(root, 'dist/src/lab/topologies');
mkdirSync(to, { recursive: true });
for (const f of readdirSync(from)) if (f.endsWith('.yaml')) copyFileSync(join(from, f), join(to, f));
