/**
 * Every example config in examples/ is valid: proxies are validated and every function is loaded
 * once (checkFunctions); controllers are validated and a resolver is built from them. The package
 * ships the files (package.json "files"), and they use no deprecated form.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { exampleNames, examplePath, EXAMPLES_DIR } from '../config/examples.js';
import { loadControllerConfig } from '../controller/config.js';
import { Resolver } from '../controller/resolver.js';
import { checkFunctions, loadProxyConfig } from '../proxy/config.js';

/** Which loader validates an example, by its name. */
const KINDS: { kind: string; match: RegExp; check: (path: string) => Promise<string[]> }[] = [
  {
    kind: 'proxy',
    match: /^(proxy|mptcp)(-[a-z0-9-]+)?\.yaml$/,
    check: async (path) => {
      const cfg = loadProxyConfig(path);
      await checkFunctions(cfg, path);
      return cfg.deprecations;
    },
  },
  {
    kind: 'controller',
    match: /^controller(-[a-z0-9-]+)?\.yaml$/,
    check: async (path) => {
      const cfg = loadControllerConfig(path);
      new Resolver(cfg);
      return cfg.deprecations;
    },
  },
];

test('the examples are found from the package root', () => {
  const names = exampleNames();
  for (const n of ['proxy.yaml', 'controller.yaml', 'controller-access.yaml', 'mptcp-cp.yaml', 'mptcp-op.yaml', 'proxy-access-p1a.yaml', 'proxy-access-p1b.yaml', 'proxy-access-p2.yaml']) assert.ok(names.includes(n), `${n} in ${EXAMPLES_DIR}`);
  assert.match(examplePath('proxy.yaml'), /\/examples\/proxy\.yaml$/);
});

for (const name of exampleNames()) {
  test(`examples/${name} is a valid config and uses no deprecated form`, async () => {
    const kinds = KINDS.filter((k) => k.match.test(name));
    assert.equal(kinds.length, 1, `examples/${name}: name it proxy-*.yaml, mptcp-*.yaml or controller-*.yaml so that a test validates it`);
    assert.deepEqual(await kinds[0]!.check(examplePath(name)), []);
  });
}

test('package.json ships the examples', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('examples/*.yaml'), `"files": ${JSON.stringify(pkg.files)}`);
});
