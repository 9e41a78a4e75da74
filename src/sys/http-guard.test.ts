import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hostAllowed, isJsonContentType, originAllowed } from './http-guard.js';

describe('http-guard: Host, Origin, content type', () => {
  test('hostAllowed: loopback names always; own addresses (never a wildcard); configured names; nothing else', () => {
    for (const h of ['localhost', 'localhost:7778', '127.0.0.1:7778', '[::1]:7778', '[::ffff:127.0.0.1]', 'LOCALHOST.']) assert.ok(hostAllowed(h), h);
    for (const h of [undefined, '', 'evil.example', '[fc00::1]:7778', '10.0.0.1']) assert.ok(!hostAllowed(h), String(h));
    assert.ok(hostAllowed('[fc00::0:1]:7778', ['fc00::1']));
    assert.ok(hostAllowed('[fc00::1]:7778', [undefined, 'fc00::1']));
    assert.ok(!hostAllowed('[::]:7778', ['::']), 'the wildcard is no host');
    assert.ok(!hostAllowed('0.0.0.0', ['0.0.0.0']));
    assert.ok(hostAllowed('Proxy.Example:7778', [], ['proxy.example']));
    assert.ok(!hostAllowed('other.example', [], ['proxy.example']));
  });

  test('originAllowed: only http:// with an allowed host; other schemes, foreign hosts and garbage are foreign', () => {
    assert.ok(originAllowed('http://localhost:7778'));
    assert.ok(originAllowed('http://[fc00::1]:7778', ['fc00::1']));
    assert.ok(originAllowed('http://proxy.example', [], ['proxy.example']));
    for (const o of ['https://localhost', 'http://evil.example', 'null', 'file://', 'not a url']) assert.ok(!originAllowed(o, ['fc00::1']), o);
  });

  test('isJsonContentType: application/json with or without parameters, any case; nothing else', () => {
    for (const t of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', ' application/json ;x']) assert.ok(isJsonContentType(t), t);
    for (const t of [undefined, '', 'text/plain', 'application/jsonx', 'application/x-www-form-urlencoded', 'multipart/form-data']) assert.ok(!isJsonContentType(t), String(t));
  });
});
