// The headless server serves the renderer through host/static-files.ts, the same path rules and
// content types as the Electron app:// handler: every content type comes from its table, NUL and
// backslashes are refused like traversal (403), and nothing outside the folder is served.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiHost } from '../../src-main/host/api-host';
import { MIME, resolveInside } from '../../src-main/host/static-files';
import { startServer, type RunningServer } from '../../src-main/server/server';

let tmp = '';
let root = '';
let srv: RunningServer;
const host = { subscribe: () => () => {}, call: async () => ({ ok: true, result: null }), cancel: async () => false } as unknown as ApiHost;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-server-static-'));
  root = path.join(tmp, 'renderer');
  fs.mkdirSync(path.join(root, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>t</title>');
  for (const ext of Object.keys(MIME)) fs.writeFileSync(path.join(root, 'assets', `f${ext}`), 'x');
  fs.writeFileSync(path.join(root, 'assets', 'f.bin'), 'x');
  fs.writeFileSync(path.join(root, 'assets', 'UPPER.CSS'), 'x');
  // a sibling folder whose name starts with the renderer folder's
  fs.mkdirSync(path.join(tmp, 'renderer-secret'));
  fs.writeFileSync(path.join(tmp, 'renderer-secret', 'key.txt'), 'secret');
  fs.writeFileSync(path.join(tmp, 'secret.txt'), 'secret');
  srv = await startServer({ host, staticDir: root });
});
afterAll(async () => {
  await srv?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function get(p: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const sep = p.includes('?') ? '&' : '?';
    const req = http.request({ host: '127.0.0.1', port: srv.port, path: `${p}${sep}token=${srv.token}`, headers: { host: `127.0.0.1:${srv.port}` } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('headless server static files (host/static-files.ts)', () => {
  it('serves every type in the shared table with its content type; unknown types as octet-stream', async () => {
    for (const [ext, type] of Object.entries(MIME)) {
      const r = await get(`/assets/f${ext}`);
      expect(r.status, ext).toBe(200);
      expect(r.type, ext).toBe(type);
    }
    expect((await get('/assets/f.bin')).type).toBe('application/octet-stream');
    expect((await get('/assets/UPPER.CSS')).type).toBe(MIME['.css']);
    expect((await get('/')).type).toBe(MIME['.html']);
  });

  it('refuses what the app:// handler refuses (traversal, encoded traversal, NUL, backslash) with 403', async () => {
    for (const p of ['/..%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/..%2frenderer-secret%2fkey.txt', '/index.html%00.js', '/assets%5c..%5c..%5csecret.txt']) {
      // the shared resolver names no file for it, and the server answers 403 without reading anything
      expect(resolveInside(root, p), p).toBeNull();
      const r = await get(p);
      expect(r.status, p).toBe(403);
      expect(r.body, p).not.toContain('secret');
    }
  });

  it('the page needs ?token in its own address (the cookie alone is for its assets): 403 with what to do', async () => {
    const raw = (p: string, cookie?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: srv.port, path: p, headers: { host: `127.0.0.1:${srv.port}`, ...(cookie ? { cookie } : {}) } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const cookie = `eac_token=${encodeURIComponent(srv.token)}`;
    for (const p of ['/', '/index.html']) {
      const r = await raw(p, cookie);
      expect(r.status, p).toBe(403);
      expect(r.body).toMatch(/needs the token in its address; open the URL the server printed/);
    }
    expect((await raw('/assets/f.js', cookie)).status).toBe(200);
    expect((await raw(`/?token=${srv.token}`)).status).toBe(200);
  });

  it('a missing file inside the folder is a 404', async () => {
    expect((await get('/assets/nope.js')).status).toBe(404);
    expect((await get('/assets')).status).toBe(404); // a folder is not a file
  });
});
