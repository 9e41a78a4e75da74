import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isSrError } from '../core/errors.js';
import { parseYamlText } from './file.js';

test('parseYamlText: YAML and JSON text; a syntax error is CONFIG_SYNTAX naming the source', () => {
  assert.deepEqual(parseYamlText('a: 1\nb: [x, y]\n', 'c.yaml'), { a: 1, b: ['x', 'y'] });
  assert.deepEqual(parseYamlText('{"a": 1}', 'c.json'), { a: 1 });
  assert.throws(() => parseYamlText('a: [1\n', 'bad.yaml'), (e) => isSrError(e) && e.code === 'CONFIG_SYNTAX' && e.message.startsWith('bad.yaml:2:1: '));
  // one line, no dangling `column 1:` and no drawing of the line (issue 15): the line goes to the hint
  assert.throws(() => parseYamlText('a: 1\n b: 2\n', 'bad.yaml'), (e) => isSrError(e, 'CONFIG_SYNTAX') && e.message === 'bad.yaml:1:4: Nested mappings are not allowed in compact mappings' && e.hint === 'line 1 is "a: 1"; the file must be YAML (JSON is YAML too)');
});

test('the YAML parser is loaded on the first parse, not with the module (a proxy worker never parses YAML)', () => {
  const file = fileURLToPath(new URL('./file.js', import.meta.url));
  const code = `
    import { createRequire } from 'node:module';
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/yaml/'));
    const m = await import(${JSON.stringify(file)});
    const before = loaded();
    m.parseYamlText('a: 1', 'x');
    console.log(JSON.stringify([before, loaded()]));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), [false, true]);
});
