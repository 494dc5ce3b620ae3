// The engine process dies under a running UI (what an out-of-memory kill does), in headless mode in
// Debian Chromium: open the demo model in the page, record two edits (through the API, as a second
// client would), see them in the ledger view; SIGKILL the engine child by pid; the page says the
// engine restarted and reopened the model from its ledger, the ledger view still shows the two
// edits, and a reload (fresh reads from the new engine process) shows them too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import WebSocket from 'ws';
import type { ServerFrame } from '../src-main/api/wire';
import { DEMO_MODEL, FACTS, fastProfile, ROOT, Steps } from './flow';
import { CHROMIUM, launchChromium, saveServerLog, startServer, stopServer, type HeadlessServer as Server } from './server';

const SHOTS = path.join(ROOT, 'test-results', 'e2e', 'engine-recovery');

/** Processes below `root` (Linux /proc) whose command line contains `marker`. */
function descendantsWith(root: number, marker: string): number[] {
  const parent = new Map<number, number>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(e), ppid);
    } catch {
      /* gone */
    }
  }
  const below = (pid: number): boolean => {
    for (let p = parent.get(pid), n = 0; p !== undefined && n < 64; p = parent.get(p), n++) if (p === root) return true;
    return false;
  };
  return [...parent.keys()].filter((pid) => {
    if (!below(pid)) return false;
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(marker);
    } catch {
      return false;
    }
  });
}

/** A second API client over the WebSocket, as another window would be. */
async function apiClient(s: Server): Promise<{ call<T>(method: string, params: unknown): Promise<T>; close(): void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/api?token=${s.token}`, { headers: { origin: `http://127.0.0.1:${s.port}` } });
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  let id = 0;
  const waiting = new Map<number, (f: Extract<ServerFrame, { type: 'reply' }>) => void>();
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString()) as ServerFrame;
    if (f.type === 'reply') waiting.get(f.callId)?.(f);
  });
  return {
    call<T>(method: string, params: unknown): Promise<T> {
      const callId = ++id;
      return new Promise<T>((resolve, reject) => {
        waiting.set(callId, (f) => {
          waiting.delete(callId);
          if (f.reply.ok) resolve(f.reply.result as T);
          else reject(new Error(`${method}: ${f.reply.error.message}`));
        });
        ws.send(JSON.stringify({ type: 'call', callId, method, params }));
      });
    },
    close: () => ws.close(),
  };
}

export async function run(): Promise<{ name: string; steps: Steps; skipped?: string }> {
  const steps = new Steps('engine-recovery');
  if (!fs.existsSync(CHROMIUM)) return { name: 'engine-recovery', steps, skipped: `no Chromium at ${CHROMIUM}` };
  if (process.platform !== 'linux') return { name: 'engine-recovery', steps, skipped: 'finds the engine process through /proc (Linux)' };
  fs.mkdirSync(SHOTS, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-e2e-recovery-'));
  let server: Server | null = null;
  let browser: Browser | null = null;
  let api: Awaited<ReturnType<typeof apiClient>> | null = null;
  try {
    await steps.run('start headless mode', async () => {
      server = await startServer(path.join(tmp, 'data'));
    });
    const s = server!;
    browser = await launchChromium();
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.setDefaultTimeout(30_000);
    const tid = (id: string) => page.locator(`[data-testid="${id}"]`);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    steps.onFail = async (name) => {
      await page.screenshot({ path: path.join(SHOTS, `FAILED-${name.replace(/[^\w]+/g, '-').slice(0, 40)}.png`), fullPage: true });
    };

    await steps.run('open the demo model in the page', async () => {
      await page.goto(s.url);
      await tid('nav-models').click();
      await tid('model-dir').fill(DEMO_MODEL);
      await tid('open-model').click();
      await tid('model-info').waitFor({ timeout: 120_000 });
    });

    await steps.run('record two edits (second client over the API); the ledger view shows them', async () => {
      api = await apiClient(s);
      const imp = await api.call<{ requests: unknown[] }>('queue.import', { fileName: path.basename(FACTS), text: fs.readFileSync(FACTS, 'utf8') });
      const profile = JSON.parse(fastProfile(fs.readFileSync(path.join(ROOT, 'resources', 'profiles', 'gpt2-world-a.json'), 'utf8')));
      const { queue } = await api.call<{ queue: { id: number } }>('queue.create', { name: 'recovery', method: 'rome', profile, requests: imp.requests.slice(0, 2) });
      const r = await api.call<{ state: string }>('queue.run', { queueId: queue.id });
      if (r.state !== 'done') throw new Error(`queue ended ${r.state}`);
      await tid('nav-ledger').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="ledger-edit"][data-active="true"]').length === 2, undefined, { timeout: 60_000 });
      await tid('status-live-edits').getByText('2 live edits').waitFor();
    });

    let killed = 0;
    await steps.run('SIGKILL the engine process', async () => {
      const engines = descendantsWith(s.proc.pid!, '--eac-engine');
      if (engines.length !== 1) throw new Error(`expected one engine process below the server, found ${JSON.stringify(engines)}`);
      killed = engines[0];
      process.kill(killed, 'SIGKILL');
    });

    await steps.run('the page says the engine restarted and reopened the model from its ledger', async () => {
      await page.locator('[data-testid="engine-notice"][data-state="restarted"]').waitFor({ timeout: 120_000 });
      const text = (await tid('engine-notice').textContent()) ?? '';
      if (!/Engine restarted; demo-model reopened from its ledger \(2 live edits\)/.test(text)) throw new Error(`notice: ${text}`);
      const now = descendantsWith(s.proc.pid!, '--eac-engine');
      if (now.length !== 1 || now[0] === killed) throw new Error(`engine processes after the kill: ${JSON.stringify(now)} (killed ${killed})`);
      await page.screenshot({ path: path.join(SHOTS, '01-engine-restarted.png'), fullPage: true });
    });

    await steps.run('the ledger view still shows both edits, also after a reload', async () => {
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="ledger-edit"][data-active="true"]').length === 2, undefined, { timeout: 30_000 });
      await page.reload();
      await tid('nav-ledger').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="ledger-edit"][data-active="true"]').length === 2, undefined, { timeout: 60_000 });
      await tid('status-live-edits').getByText('2 live edits').waitFor();
      const ws = await api!.call<{ liveEdits: number; integrity: string[] }>('workspace.info', {});
      if (ws.liveEdits !== 2 || ws.integrity.length) throw new Error(`workspace after the restart: ${JSON.stringify({ live: ws.liveEdits, integrity: ws.integrity })}`);
      await page.screenshot({ path: path.join(SHOTS, '02-ledger-after-restart.png'), fullPage: true });
      if (errors.length) throw new Error(`the page threw:\n${errors.join('\n')}`);
    });
  } catch (e) {
    saveServerLog(server, 'engine-recovery');
    throw e;
  } finally {
    (api as { close(): void } | null)?.close();
    await (browser as Browser | null)?.close().catch(() => {});
    await stopServer(server);
    if (!process.env.EAC_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { name: 'engine-recovery', steps };
}
