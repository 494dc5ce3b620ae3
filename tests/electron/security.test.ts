// The Electron window's security decisions (src-main/electron/security.ts) as pure functions, so
// they run without an Electron binary: exact-origin navigation checks, the IPC sender check, and
// app:// path resolution that never leaves the renderer folder.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  allowNavigation,
  APP_CSP,
  APP_INDEX_URL,
  APP_ORIGIN,
  appResponseHeaders,
  isAppUrl,
  isTrustedSender,
  originOf,
  resolveAppFile,
} from '../../src-main/electron/security';
import { tmpDir } from '../jobs/helpers';

describe('navigation: exact origin, parsed', () => {
  it('allows only app://eac itself', () => {
    expect(APP_ORIGIN).toBe('app://eac');
    for (const ok of [APP_INDEX_URL, 'app://eac/', 'app://eac', 'app://eac/index.html#/ledger', 'app://eac/assets/x.js?v=1', 'APP://eac/index.html'])
      expect(allowNavigation(ok), ok).toBe(true);
  });

  it('refuses look-alikes a string-prefix check would let through', () => {
    // every one of these starts with "app://eac"
    for (const bad of ['app://eac.evil.example/index.html', 'app://eacx/index.html', 'app://eac:8080/index.html', 'app://eac@evil/index.html', 'app://eac:pw@eac/'])
      expect(allowNavigation(bad), bad).toBe(false);
  });

  it('refuses other schemes and hosts, and garbage', () => {
    for (const bad of [
      'file:///work/out/renderer/index.html',
      'https://eac/index.html',
      'http://127.0.0.1:1234/?token=x',
      'app://evil/?next=app://eac/',
      'javascript:alert(1)',
      'data:text/html,<script>1</script>',
      'about:blank',
      'not a url',
      '',
    ])
      expect(allowNavigation(bad), bad).toBe(false);
  });

  it('originOf builds scheme://host from the parsed URL (WHATWG says "null" for app:)', () => {
    expect(new URL('app://eac/x').origin).toBe('null');
    expect(originOf('app://eac/x')).toBe('app://eac');
    expect(originOf('https://a.example:8443/p')).toBe('https://a.example:8443');
    expect(originOf('app://u:p@eac/')).toBeNull();
    expect(originOf('%%')).toBeNull();
    expect(isAppUrl('app://eac')).toBe(true);
  });
});

describe('IPC sender check', () => {
  it('accepts the app index in the top frame only', () => {
    expect(isTrustedSender(APP_INDEX_URL, true)).toBe(true);
    expect(isTrustedSender('app://eac/', true)).toBe(true);
    expect(isTrustedSender(APP_INDEX_URL, false)).toBe(false); // a subframe
    expect(isTrustedSender('app://eac/assets/other.html', true)).toBe(false);
    expect(isTrustedSender('app://eac.evil/index.html', true)).toBe(false);
    expect(isTrustedSender('file:///x/out/renderer/index.html', true)).toBe(false);
    expect(isTrustedSender(undefined, true)).toBe(false);
  });
});

describe('app:// path resolution', () => {
  const root = tmpDir('eac-renderer-');
  fs.mkdirSync(path.join(root, 'assets'));
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html>');
  fs.writeFileSync(path.join(root, 'assets', 'app.js'), '1');
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('maps app URLs to files inside the renderer folder', () => {
    expect(resolveAppFile(root, 'app://eac/')).toBe(path.join(root, 'index.html'));
    expect(resolveAppFile(root, 'app://eac/index.html?x=1#y')).toBe(path.join(root, 'index.html'));
    expect(resolveAppFile(root, 'app://eac/assets/app.js')).toBe(path.join(root, 'assets', 'app.js'));
    expect(resolveAppFile(root, 'app://eac/assets/a%20b.js')).toBe(path.join(root, 'assets', 'a b.js'));
  });

  it('never leaves the folder: dot segments, encoded slashes and dots, backslashes, NUL', () => {
    // plain dot segments are removed by the URL parser itself: they stay inside the folder
    expect(resolveAppFile(root, 'app://eac/../secret.txt')).toBe(path.join(root, 'secret.txt'));
    expect(resolveAppFile(root, 'app://eac/%2e%2e/assets/app.js')).toBe(path.join(root, 'assets', 'app.js'));
    // what the parser leaves encoded would escape once decoded: refused
    const escaping = [
      'app://eac/..%2Fsecret.txt',
      'app://eac/assets/..%2F..%2Fsecret.txt',
      'app://eac/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
      'app://eac/..%5Csecret.txt',
      'app://eac/assets%5C..%5C..%5Csecret.txt',
      'app://eac/index.html%00.js',
      'app://eac/%E0%A4%A', // malformed percent-encoding
      'app://eac/%2F', // the folder itself, not a file in it
    ];
    for (const u of escaping) expect(resolveAppFile(root, u), u).toBeNull();
  });

  it('serves nothing for other origins', () => {
    expect(resolveAppFile(root, 'app://evil/index.html')).toBeNull();
    expect(resolveAppFile(root, 'file:///index.html')).toBeNull();
  });

  it('every response carries the CSP header with no unsafe sources and no network', () => {
    const h = appResponseHeaders(path.join(root, 'index.html'));
    expect(h['content-security-policy']).toBe(APP_CSP);
    expect(APP_CSP).toContain("script-src 'self'");
    expect(APP_CSP).toContain("connect-src 'none'");
    expect(APP_CSP).not.toMatch(/unsafe|\*/);
    expect(h['content-type']).toBe('text/html; charset=utf-8');
    expect(h['x-content-type-options']).toBe('nosniff');
  });
});
