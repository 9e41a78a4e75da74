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
import { loadAccessRouterConfig } from '../access-router/config-file.js';
import { loadReturnAgentConfig } from '../return/config-file.js';

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
  {
    kind: 'access-router agent',
    match: /^access-router(-[a-z0-9-]+)?\.yaml$/,
    check: async (path) => {
      const o = loadAccessRouterConfig(path);
      assert.match(o.tokenFile ?? '', /\/examples\/ar2?\.token$/, 'the token file is relative to the config file');
      return [];
    },
  },
  {
    kind: 'return agent',
    match: /^return-agent(-[a-z0-9-]+)?\.yaml$/,
    check: async (path) => {
      assert.ok(loadReturnAgentConfig(path).hops.length > 0);
      return [];
    },
  },
];

test('the examples are found from the package root', () => {
  const names = exampleNames();
  for (const n of ['proxy.yaml', 'proxy-chain-1.yaml', 'proxy-chain-2.yaml', 'access-router.yaml', 'return-agent.yaml', 'controller.yaml', 'controller-access.yaml', 'mptcp-cp.yaml', 'mptcp-op.yaml', 'proxy-access-p1a.yaml', 'proxy-access-p1b.yaml', 'proxy-access-p2.yaml']) assert.ok(names.includes(n), `${n} in ${EXAMPLES_DIR}`);
  assert.match(examplePath('proxy.yaml'), /\/examples\/proxy\.yaml$/);
});

for (const name of exampleNames()) {
  test(`examples/${name} is a valid config and uses no deprecated form`, async () => {
    const kinds = KINDS.filter((k) => k.match.test(name));
    assert.equal(kinds.length, 1, `examples/${name}: name it proxy-*.yaml, mptcp-*.yaml, controller-*.yaml, access-router-*.yaml or return-agent-*.yaml so that a test validates it`);
    assert.deepEqual(await kinds[0]!.check(examplePath(name)), []);
  });
}

test('package.json ships the examples', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('examples/*.yaml'), `"files": ${JSON.stringify(pkg.files)}`);
});

test('the agents’ config files: a bad key or value names the field (CONFIG_INVALID)', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'srv6pipes-agents-'));
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const bad = (f: () => unknown, re: RegExp): void => assert.throws(f, (e: unknown) => (e as { code?: string }).code === 'CONFIG_INVALID' && re.test((e as Error).message));
  bad(() => loadAccessRouterConfig(file('a1.yaml', 'bsidPrefix: "fc00:f::/64"\nlisten: "[::1]:7780"\nbsid: 1\n')), /bsid/);
  bad(() => loadAccessRouterConfig(file('a2.yaml', 'bsidPrefix: "fc00:f::"\nlisten: "[::1]:7780"\n')), /bsidPrefix/);
  bad(() => loadAccessRouterConfig(file('a3.yaml', 'bsidPrefix: "fc00:f::/64"\nlisten: "[::1]:7780"\nlimits: { maxSegments: 1000 }\n')), /limits\.maxSegments/);
  bad(() => loadReturnAgentConfig(file('r1.yaml', 'hops: [ { id: 70000, sid: "fc00:a::ffff" } ]\n')), /hops\[0\]\.id|hops\.0\.id/);
  bad(() => loadReturnAgentConfig(file('r2.yaml', 'refresh: 10ms\nhops: [ { id: 1, sid: "fc00:a::1" } ]\n')), /refresh/);
  bad(() => loadReturnAgentConfig(file('r3.yaml', 'report: 60s\n')), /hops/);
  bad(() => loadReturnAgentConfig(file('r4.yaml', 'hops: [ { id: 1, sid: "fc00:a::1" }, { id: 1, sid: "fc00:a::2" } ]\n')), /given twice/);
  assert.deepEqual(loadReturnAgentConfig(file('r5.yaml', 'hops: [ { id: 1, sid: "fc00:a::1" } ]\nrefresh: 2m\n')), { hops: [{ id: 1, sid: 'fc00:a::1' }], refreshSeconds: 120, reportSeconds: 60, logLevel: 'info' });
  // a replicated controller: its instances as a list (one is a list of one)
  assert.deepEqual(loadReturnAgentConfig(file('r6.yaml', 'controller: [ "[fc00:9::2]:53", "[fc00:8::2]:53" ]\n')).controller, ['[fc00:9::2]:53', '[fc00:8::2]:53']);
  assert.deepEqual(loadReturnAgentConfig(file('r7.yaml', 'controller: "[fc00:9::2]:53"\n')).controller, ['[fc00:9::2]:53']);
  bad(() => loadReturnAgentConfig(file('r8.yaml', 'controller: []\n')), /controller/);
});
