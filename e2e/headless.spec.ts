// Headless mode in Debian Chromium: starts `src-main/server/main.ts` on a random port with a temp
// data dir, checks the access control, then drives the whole user flow (see ./flow).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import WebSocket from 'ws';
import { jobsFlow, ROOT, Steps, userFlow } from './flow';
import { CHROMIUM, launchChromium, saveServerLog, startServer, stopServer, type HeadlessServer } from './server';

const SHOTS = path.join(ROOT, 'test-results', 'e2e', 'headless');

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
  let server: HeadlessServer | null = null;
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
      browser = await launchChromium();
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
    const restart = async (whileDown?: () => Promise<void>) => {
      const old = server!;
      old.proc.kill('SIGTERM');
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('the server did not stop within 30 s of SIGTERM')), 30_000);
        old.proc.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
      await whileDown?.();
      server = await startServer(dataDir);
      return server.url;
    };
    await jobsFlow({ page, page2, steps, shotsDir: SHOTS, tmpDir: tmp, restart });
  } catch (e) {
    saveServerLog(server, 'headless');
    throw e;
  } finally {
    await (browser as Browser | null)?.close().catch(() => {});
    await stopServer(server);
    if (!process.env.EAC_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { name: 'headless', steps };
}
