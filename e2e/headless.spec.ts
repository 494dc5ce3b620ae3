// Headless mode in Debian Chromium: starts `src-main/server/main.ts` on a random port with a temp
// data dir, checks the access control, then drives the whole user flow (see ./flow).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import WebSocket from 'ws';
import { jobsFlow, ROOT, Steps, userFlow } from './flow';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-results', 'e2e', 'headless');

function startServer(dataDir: string): Promise<{ proc: ChildProcess; url: string; port: number; token: string; log: () => string }> {
  const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const proc = spawn(process.execPath, [tsx, path.join(ROOT, 'src-main', 'server', 'main.ts'), '--port', '0', '--data', dataDir, '--no-model'], {
    cwd: ROOT,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not print its URL in 60 s:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /Open: (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([\w-]+))/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1], port: Number(m[2]), token: m[3], log: () => out });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before it was ready:\n${out}`));
    });
  });
}

function wsStatus(url: string, origin: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { origin } });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(-1));
  });
}

export async function run(): Promise<{ name: string; steps: Steps; skipped?: string }> {
  const steps = new Steps('headless');
  if (!fs.existsSync(CHROMIUM)) return { name: 'headless', steps, skipped: `no Chromium at ${CHROMIUM}` };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-e2e-'));
  const dataDir = path.join(tmp, 'data');
  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  let browser: Browser | null = null;
  try {
    await steps.run('start headless mode (random port, temp data dir)', async () => {
      server = await startServer(dataDir);
    });
    const s = server!;
    const origin = `http://127.0.0.1:${s.port}`;

    await steps.run('access control: token and origin enforced (403)', async () => {
      const page = await fetch(`${origin}/`);
      if (page.status !== 403) throw new Error(`no token: HTTP ${page.status}`);
      const wrong = await fetch(`${origin}/?token=wrong`);
      if (wrong.status !== 403) throw new Error(`wrong token: HTTP ${wrong.status}`);
      const good = await fetch(s.url);
      if (good.status !== 200) throw new Error(`right token: HTTP ${good.status}`);
      const csp = good.headers.get('content-security-policy') ?? '';
      if (!csp.includes("script-src 'self'") || csp.includes('unsafe')) throw new Error(`weak CSP: ${csp}`);
      const api = `ws://127.0.0.1:${s.port}/api`;
      const cases: [string, string, number][] = [
        [`${api}?token=${s.token}`, 'http://evil.example', 403],
        [`${api}?token=nope`, origin, 403],
        [api, origin, 403],
        [`${api}?token=${s.token}`, origin, 101],
      ];
      for (const [u, o, want] of cases) {
        const got = await wsStatus(u, o);
        if (got !== want) throw new Error(`ws ${u.replace(s.token, '<token>')} origin ${o}: got ${got}, want ${want}`);
      }
    });

    await steps.run('launch Debian Chromium', async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      });
    });
    const context = await browser!.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await steps.run('load the app with its token', async () => {
      await page.goto(s.url);
      await page.locator('[data-testid="view-models"]').waitFor();
    });
    await userFlow({ page, steps, shotsDir: SHOTS, tmpDir: tmp });
    // a second window (its own context, like a second browser tab) on the same app
    const context2 = await browser!.newContext({ viewport: { width: 1400, height: 900 } });
    const page2 = await context2.newPage();
    page2.setDefaultTimeout(30_000);
    await page2.goto(s.url);
    const restart = async () => {
      const old = server!;
      old.proc.kill('SIGTERM');
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('the server did not stop within 30 s of SIGTERM')), 30_000);
        old.proc.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
      server = await startServer(dataDir);
      return server.url;
    };
    await jobsFlow({ page, page2, steps, shotsDir: SHOTS, tmpDir: tmp, restart });
  } catch (e) {
    if (server) fs.writeFileSync(path.join(ROOT, 'test-results', 'e2e', 'headless-server.log'), (server as { log: () => string }).log());
    throw e;
  } finally {
    await (browser as Browser | null)?.close().catch(() => {});
    const proc = (server as { proc: ChildProcess } | null)?.proc;
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
    if (!process.env.EAC_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { name: 'headless', steps };
}
