// The same flow in the Electron window through Playwright's _electron.launch, then the window's
// hardening (app:// origin, no Node, navigation refused) and an engine-process kill the window
// survives. Skipped, with the reason printed, where no Electron binary is installed (the optional
// dependency, skipped here); the same checks run without Electron in tests/electron and in the
// headless engine-recovery spec.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron, type ElectronApplication } from 'playwright-core';
import { findElectron } from '../src-main/electron/launch-helpers';
import { APP_INDEX_URL } from '../src-main/electron/security';
import { ROOT, Steps, userFlow } from './flow';

const SHOTS = path.join(ROOT, 'test-results', 'e2e', 'electron');

export async function run(): Promise<{ name: string; steps: Steps; skipped?: string }> {
  const steps = new Steps('electron');
  const found = findElectron();
  if ('reason' in found) return { name: 'electron', steps, skipped: `no Electron binary: ${found.reason}` };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-e2e-electron-'));
  let app: ElectronApplication | null = null;
  try {
    await steps.run('launch the Electron app', async () => {
      app = await _electron.launch({
        executablePath: found.path,
        args: [...(process.env.CI || process.getuid?.() === 0 ? ['--no-sandbox'] : []), ROOT, '--data', path.join(tmp, 'data')],
        cwd: ROOT,
        // as `npm start` does: the engine process runs on this Node, whose ABI npm built the natives for
        env: { ...process.env, EAC_ENGINE_NODE: process.execPath },
        timeout: 60_000,
      });
    });
    const page = await app!.firstWindow();
    page.setDefaultTimeout(30_000);
    await steps.run('the window has the preload bridge only', async () => {
      await page.locator('[data-testid="view-models"]').waitFor();
      const probe = await page.evaluate(() => ({
        eac: typeof (window as unknown as { eac?: { call?: unknown } }).eac?.call,
        require: typeof (window as unknown as { require?: unknown }).require,
        process: typeof (window as unknown as { process?: unknown }).process,
      }));
      if (probe.eac !== 'function' || probe.require !== 'undefined' || probe.process !== 'undefined')
        throw new Error(`unexpected globals: ${JSON.stringify(probe)}`);
    });
    await steps.run('served from app://eac, navigation elsewhere refused', async () => {
      if (page.url() !== APP_INDEX_URL) throw new Error(`window URL ${page.url()}`);
      await page.evaluate(() => {
        location.href = 'https://example.com/';
      });
      await page.waitForTimeout(500);
      if (page.url() !== APP_INDEX_URL) throw new Error(`navigated to ${page.url()}`);
      const opened = await page.evaluate(() => window.open('app://eac/index.html') === null);
      if (!opened) throw new Error('window.open was not denied');
    });
    await userFlow({ page, steps, shotsDir: SHOTS, tmpDir: tmp });
    await steps.run('the window survives an engine kill; the model is reopened from its ledger', async () => {
      const main = app!.process().pid!;
      const engines = fs
        .readdirSync('/proc')
        .filter((e) => /^\d+$/.test(e))
        .filter((e) => {
          try {
            const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
            const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]); // after "pid (comm) state"
            return ppid === main && fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').includes('--eac-engine');
          } catch {
            return false;
          }
        });
      if (engines.length !== 1) throw new Error(`expected one engine child of ${main}, found ${JSON.stringify(engines)}`);
      process.kill(Number(engines[0]), 'SIGKILL');
      await page.locator('[data-testid="engine-notice"][data-state="restarted"]').waitFor({ timeout: 120_000 });
      await page.locator('[data-testid="nav-ledger"]').click();
      await page.locator('[data-testid="ledger-edit"]').first().waitFor();
    });
  } finally {
    await (app as ElectronApplication | null)?.close().catch(() => {});
    if (!process.env.EAC_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { name: 'electron', steps };
}
