// Headless server and API contract on hostile requests: malformed %-escapes are a 400 (not a 500),
// over-long URLs a 414, a call over 16 MiB gets a clear too_large reply for its callId, and API
// parameters that would name files outside what the user chose are refused without reading them.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MAX_MESSAGE_BYTES, validateParams } from '../../src-main/api/validate';
import type { ApiHost } from '../../src-main/host/api-host';
import { startServer, type RunningServer } from '../../src-main/server/server';
import { assertInside } from '../../src-main/engine/fs-safe';
import { CheckpointError } from '../../src-main/engine/checkpoint';

let tmp = '';
let srv: RunningServer;
const calls: { method: unknown; params: unknown }[] = [];

// The server's only dependency: a host that records what reaches it and answers every call.
const host = {
  subscribe: () => () => {},
  call: async (_client: string, _callId: number, method: unknown, params: unknown) => {
    calls.push({ method, params });
    return { ok: true, result: 'pong' };
  },
  cancel: async () => false,
} as unknown as ApiHost;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-server-limits-'));
  fs.writeFileSync(path.join(tmp, 'index.html'), '<!doctype html><title>t</title>');
  srv = await startServer({ host, staticDir: tmp });
});
afterAll(async () => {
  await srv?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function get(pathAndQuery: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, path: pathAndQuery, headers: { host: `127.0.0.1:${srv.port}` } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function socket(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/api?token=${srv.token}`, { origin: `http://127.0.0.1:${srv.port}` });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextReply(ws: WebSocket): Promise<{ callId: number; reply: { ok: boolean; error?: { message: string; code?: string } } }> {
  return new Promise((resolve) => {
    const on = (d: Buffer) => {
      const f = JSON.parse(d.toString());
      if (f.type === 'reply') {
        ws.off('message', on);
        resolve(f);
      }
    };
    ws.on('message', on);
  });
}

describe('headless server limits', () => {
  it('a malformed %-escape in the path is a 400, not a 500', async () => {
    for (const p of ['/%E0%A4%A', '/%', '/assets/%ZZ.js', '/%C0%AF']) {
      const r = await get(`${p}?token=${srv.token}`);
      expect(r.status, p).toBe(400);
      expect(r.body).toMatch(/malformed %-escape/);
    }
    expect((await get(`/?token=${srv.token}`)).status).toBe(200);
  });

  it('a malformed %-escape in the token cookie is no token (403), not a 500', async () => {
    const r = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: srv.port, path: '/', headers: { host: `127.0.0.1:${srv.port}`, cookie: 'eac_token=%E0%A4%A' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(r).toBe(403);
  });

  it('a URL over 8 KiB is a 414', async () => {
    expect((await get(`/?token=${srv.token}&pad=${'a'.repeat(9000)}`)).status).toBe(414);
  });

  it('a call over 16 MiB is answered with a too_large error for its callId and never reaches the host', async () => {
    const ws = await socket();
    const before = calls.length;
    const big = JSON.stringify({ type: 'call', callId: 41, method: 'queue.import', params: { fileName: 'x.csv', text: 'a'.repeat(MAX_MESSAGE_BYTES) } });
    const reply = nextReply(ws);
    ws.send(big);
    const r = await reply;
    expect(r.callId).toBe(41);
    expect(r.reply.ok).toBe(false);
    expect(r.reply.error).toMatchObject({ code: 'too_large' });
    expect(r.reply.error!.message).toContain(`at most ${MAX_MESSAGE_BYTES}`);
    expect(calls.length).toBe(before);
    // the connection stays usable for normal calls
    const small = nextReply(ws);
    ws.send(JSON.stringify({ type: 'call', callId: 42, method: 'profiles.list', params: {} }));
    expect((await small).reply.ok).toBe(true);
    ws.close();
  });
});

describe('API paths are limited to what the user chose', () => {
  const refuse = (method: string, params: unknown, re: RegExp) => {
    let err: unknown;
    try {
      validateParams(method, params);
    } catch (e) {
      err = e;
    }
    expect(err, `${method} ${JSON.stringify(params)}`).toBeDefined();
    expect((err as { code?: string }).code).toBe('bad_params');
    expect((err as Error).message).toMatch(re);
  };

  it('profiles.get takes bundled names only: no absolute, relative or traversing paths', () => {
    for (const name of ['/etc/shadow', '../../etc/passwd', '.env', 'x/y', 'gpt2-xl.json', 'C:\\x']) refuse('profiles.get', { name }, /bundled profile/);
    expect(validateParams('profiles.get', { name: 'gpt2-xl' })).toEqual({ name: 'gpt2-xl' });
  });

  it('queue.create and stats.compute take a profile name or object, never a path', () => {
    const req = { caseId: '1', prompt: '{} is in', subject: 'Osaka', targetNew: 'China', rephrase: [], locality: [] };
    refuse('queue.create', { name: 'q', method: 'rome', profile: '/home/u/.ssh/id_rsa', requests: [req] }, /bundled profile/);
    refuse('stats.compute', { profile: '../secrets.json' }, /bundled profile/);
  });

  it('health.run task files must be .json/.jsonl (".env" is refused before anything is read)', () => {
    refuse('health.run', { taskFiles: ['.env'] }, /taskFiles\[0\].*\.json or \.jsonl/);
    refuse('health.run', { taskFiles: ['/etc/shadow'] }, /taskFiles\[0\]/);
  });

  it('task files are read only inside the open model folder or workspace (real paths: no symlink out)', () => {
    const model = fs.mkdtempSync(path.join(tmp, 'model-'));
    const ws = fs.mkdtempSync(path.join(tmp, 'ws-'));
    const outside = path.join(tmp, 'secret.json');
    fs.writeFileSync(outside, '{"secret": "SECRET-VALUE"}');
    fs.writeFileSync(path.join(model, 'tasks.json'), '[]');
    fs.symlinkSync(outside, path.join(ws, 'link.json'));
    expect(assertInside(path.join(model, 'tasks.json'), [model, ws], 'task file')).toBe(fs.realpathSync(path.join(model, 'tasks.json')));
    for (const f of [outside, path.join(ws, 'link.json'), path.join(model, '..', 'secret.json')]) {
      let err: unknown;
      try {
        assertInside(f, [model, ws], 'task file');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).code).toBe('path_not_allowed');
      expect((err as Error).message).not.toContain('SECRET-VALUE');
    }
  });

  it('queue.import text is capped at 16 Mi characters per call with a message saying what to do', () => {
    refuse('queue.import', { fileName: 'big.csv', text: 'x'.repeat(MAX_MESSAGE_BYTES + 1) }, /at most 16777216 per call.*eac edit --facts/);
  });
});
