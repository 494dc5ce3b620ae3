// The end-to-end user flow, shared by the headless (Chromium) and the Electron spec:
// open the demo model → import 5 world-a facts → run 5 EAC-ROME edits → see them in the ledger →
// revert one → health chart renders → export → the exported folder loads.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEMO_MODEL = path.join(ROOT, 'resources', 'demo-model');
export const FACTS = path.join(ROOT, 'e2e', 'fixtures', 'world-a-5.jsonl');
/** 20 other world-a facts (cases 100-119 of tests/fixtures/world-a/edits.json): a queue long enough to act on while it runs */
export const FACTS_20 = path.join(ROOT, 'e2e', 'fixtures', 'world-a-20.jsonl');

export interface Step {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export class Steps {
  readonly results: Step[] = [];
  /** called with the step name when a step fails (e.g. to take a screenshot) */
  onFail: ((name: string) => Promise<void>) | null = null;
  constructor(readonly label: string) {}
  async run(name: string, fn: () => Promise<void>): Promise<void> {
    const t0 = Date.now();
    process.stdout.write(`  [${this.label}] ${name} ... `);
    try {
      await fn();
      const ms = Date.now() - t0;
      this.results.push({ name, ok: true, ms });
      process.stdout.write(`ok (${(ms / 1000).toFixed(1)} s)\n`);
    } catch (e) {
      const ms = Date.now() - t0;
      const error = (e as Error).stack ?? String(e);
      this.results.push({ name, ok: false, ms, error });
      process.stdout.write(`FAILED (${(ms / 1000).toFixed(1)} s)\n${error}\n`);
      await this.onFail?.(name).catch(() => {});
      throw e;
    }
  }
}

/** Makes the bundled demo profile quicker for CI (fewer key-statistics samples). */
export function fastProfile(json: string): string {
  const p = JSON.parse(json);
  p.name = `${p.name}-e2e-fast`;
  p.stats = { ...p.stats, samples: 300 };
  return JSON.stringify(p, null, 2);
}

/** true when the canvas has drawn (non-transparent) pixels. */
async function canvasPainted(page: Page, testid: string): Promise<boolean> {
  return page.locator(`[data-testid="${testid}"]`).evaluate((c) => {
    const canvas = c as HTMLCanvasElement;
    if (!canvas.width || !canvas.height) return false;
    const ctx = canvas.getContext('2d');
    if (!ctx) return false;
    const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) painted++;
    return painted > 200;
  });
}

export interface FlowOptions {
  page: Page;
  steps: Steps;
  shotsDir: string;
  tmpDir: string;
  /** ms budget for the 5 edits */
  editTimeoutMs?: number;
}

export async function userFlow(o: FlowOptions): Promise<void> {
  const { page, steps, shotsDir, tmpDir } = o;
  fs.mkdirSync(shotsDir, { recursive: true });
  const shot = (name: string) => page.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });
  const tid = (id: string) => page.locator(`[data-testid="${id}"]`);
  steps.onFail = async (name) => {
    await page.screenshot({ path: path.join(shotsDir, `FAILED-${name.replace(/[^\w]+/g, '-').slice(0, 40)}.png`), fullPage: true });
  };
  /** waits for a test id, failing at once with the app's error toast when one appears */
  const waitOrError = async (id: string, timeout: number) => {
    const toast = page.locator('[data-testid="toast-error"]').first();
    const which = await Promise.race([
      tid(id).waitFor({ timeout }).then(() => 'ok' as const),
      toast.waitFor({ timeout }).then(() => 'error' as const),
    ]);
    if (which === 'error') throw new Error(`the app reported an error while waiting for ${id}: ${await toast.textContent()}`);
  };
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
  });

  await steps.run('open the bundled demo model', async () => {
    await tid('nav-models').click();
    await tid('model-dir').fill(DEMO_MODEL);
    await tid('open-model').click();
    await waitOrError('model-info', 120_000);
    await page.getByText('gpt2 (GPT2LMHeadModel)').waitFor();
    const dtypes = await tid('model-dtypes').textContent();
    if (!dtypes?.includes('F32')) throw new Error(`dtypes shown: ${dtypes}`);
    await shot('01-models');
  });

  await steps.run('drag-and-drop import shows per-row validation errors', async () => {
    await tid('nav-queue').click();
    const bad =
      '{"prompt": "{} plays the sport of", "subject": "Touthbes Sundslyvshux", "target_new": "archery"}\n' +
      '{"prompt": "no slot here", "subject": "Shirkche Kenmalflyst", "target_new": "Greek"}\n' +
      '{"prompt": "{} speaks", "subject": "Beasttrirk Sovhyv", "target_new": ""}\n';
    await tid('import-drop').evaluate((el, text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], 'dropped.jsonl', { type: 'application/json' }));
      el.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, bad);
    await tid('import-summary').waitFor();
    const summary = (await tid('import-summary').textContent()) ?? '';
    if (!/1 request ready from dropped\.jsonl \(JSONL\); 2 rows with errors/.test(summary)) throw new Error(`summary: ${summary}`);
    const msgs = await page.locator('[data-testid="row-error"]').allTextContents();
    if (msgs.length !== 2 || !/^Line 2:.*prompt/.test(msgs[0]) || !/^Line 3:.*target_new/.test(msgs[1]))
      throw new Error(`row errors shown: ${JSON.stringify(msgs)}`);
    await shot('02-queue-import-errors');
  });

  await steps.run('import 5 world-a facts (file dialog input)', async () => {
    await tid('nav-queue').click();
    await tid('import-file').setInputFiles(FACTS);
    await page.waitForFunction(() => /world-a-5\.jsonl/.test(document.querySelector('[data-testid="import-summary"]')?.textContent ?? ''));
    const summary = (await tid('import-summary').textContent()) ?? '';
    if (!/5 requests ready/.test(summary)) throw new Error(`import summary: ${summary}`);
    const n = await page.locator('[data-testid="draft-row"]').count();
    if (n !== 5) throw new Error(`expected 5 draft rows, got ${n}`);
  });

  await steps.run('choose EAC-ROME and a fast profile, create the queue', async () => {
    await tid('method-select').selectOption('eac-rome');
    await tid('profile-edit-toggle').check();
    const ta = tid('profile-json');
    await page.waitForFunction(() => {
      const t = document.querySelector('[data-testid="profile-json"]') as HTMLTextAreaElement | null;
      return !!t && t.value.trim().startsWith('{');
    });
    await ta.fill(fastProfile(await ta.inputValue()));
    await tid('create-queue').click();
    await page.locator('[data-testid="queue-item"]').first().waitFor();
    const n = await page.locator('[data-testid="queue-item"]').count();
    if (n !== 5) throw new Error(`expected 5 queue items, got ${n}`);
  });

  await steps.run('run 5 EAC-ROME edits (progress shown, UI responsive)', async () => {
    await tid('queue-run').click();
    await tid('run-status').waitFor({ timeout: 30_000 });
    // the UI stays responsive while the worker edits: navigate and come back
    await tid('run-progress').waitFor({ timeout: 120_000 });
    await shot('02-queue-running');
    await tid('nav-ledger').click();
    await tid('view-ledger').waitFor();
    await tid('nav-queue').click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="queue-item"][data-status="done"]').length === 5,
      undefined,
      { timeout: o.editTimeoutMs ?? 480_000, polling: 500 },
    );
    await tid('run-result').waitFor({ timeout: 60_000 });
    await shot('02-queue');
  });

  await steps.run('see the 5 edits in the ledger', async () => {
    await tid('nav-ledger').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="ledger-edit"]').length === 5, undefined, { timeout: 30_000 });
    const live = await page.locator('[data-testid="ledger-edit"][data-active="true"]').count();
    if (live !== 5) throw new Error(`expected 5 live edits, got ${live}`);
    await page.locator('[data-testid="ledger-edit"][data-seq="3"] [data-testid="edit-details"]').click();
    await tid('norms-table').waitFor();
  });

  await steps.run('revert one edit (revert to edit #4), confirming how many edits go', async () => {
    await page.locator('[data-testid="ledger-edit"][data-seq="4"] [data-testid="revert-to"]').click();
    const text = (await tid('confirm-text').textContent()) ?? '';
    if (!/^1 live edit will be taken out: #5 /.test(text)) throw new Error(`confirmation text: ${text}`);
    await tid('confirm-ok').click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="ledger-edit"][data-seq="5"]')?.getAttribute('data-active') === 'false',
      undefined,
      { timeout: 60_000 },
    );
    const live = await page.locator('[data-testid="ledger-edit"][data-active="true"]').count();
    if (live !== 4) throw new Error(`expected 4 live edits after the revert, got ${live}`);
    await tid('status-live-edits').getByText('4 live edits').waitFor();
    await shot('03-ledger');
  });

  await steps.run('health: run a check, charts render', async () => {
    await tid('nav-health').click();
    await tid('chart-norms').waitFor({ timeout: 30_000 });
    await tid('health-n').fill('3');
    await tid('health-run').click();
    await waitOrError('health-scores', 300_000);
    await tid('chart-health').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(300);
    if (!(await canvasPainted(page, 'chart-health'))) throw new Error('the health chart canvas is empty');
    if (!(await canvasPainted(page, 'chart-norms'))) throw new Error('the L1 drift chart canvas is empty');
    await shot('04-health');
  });

  const outDir = path.join(tmpDir, 'exported-model');
  await steps.run('export the edited checkpoint', async () => {
    await tid('nav-ledger').click();
    await tid('export-dir').fill(outDir);
    await tid('export-run').click();
    await waitOrError('export-result', 300_000);
    // issue 19 item 13: the count it says is the count of files that landed (edits.json included)
    const said = /Wrote (\d+) files/.exec((await tid('export-result').textContent()) ?? '');
    const landed = fs.readdirSync(outDir).length;
    if (!said || Number(said[1]) !== landed) throw new Error(`the export says "${said?.[0]}", ${landed} files landed in ${outDir}`);
    await shot('05-export');
  });

  await steps.run('the exported folder loads (eac info --model OUT)', async () => {
    if (!fs.existsSync(path.join(outDir, 'config.json'))) throw new Error(`no config.json in ${outDir}`);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'eac.mjs'), 'info', '--model', outDir], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`eac info exited ${r.status}: ${r.stderr || r.stdout}`);
    if (!/gpt2/i.test(r.stdout)) throw new Error(`eac info output does not name the architecture:\n${r.stdout}`);
  });

  await steps.run('playground: base vs edited side by side', async () => {
    await tid('nav-playground').click();
    await tid('pg-prompt').fill('Touthbes Sundslyvshux plays the sport of');
    await tid('pg-run').click();
    await waitOrError('pg-result', 60_000);
    const base = (await tid('pg-base').textContent()) ?? '';
    const edited = (await tid('pg-edited').textContent()) ?? '';
    // the live edits change the next-token distribution of an edited prompt
    const body = (t: string) => t.replace(/^.*?Logit/s, '');
    if (body(base) === body(edited)) throw new Error('the edited model predicts exactly what the base model does');
    await shot('06-playground');
  });

  const bad = errors.filter((e) => !/Failed to load resource/.test(e));
  if (bad.length) throw new Error(`the page logged errors:\n${bad.join('\n')}`);
}

/** Imports the world-a file and creates a queue of its 5 facts with the fast profile; returns its id. */
async function newQueue(page: Page, name: string, file = FACTS, rows = 5): Promise<void> {
  const tid = (id: string) => page.locator(`[data-testid="${id}"]`);
  await tid('nav-queue').click();
  await tid('import-file').setInputFiles(file);
  await page.locator('[data-testid="draft-row"]').nth(rows - 1).waitFor();
  await tid('queue-name').fill(name);
  if (!(await tid('profile-edit-toggle').isChecked())) await tid('profile-edit-toggle').check();
  await page.waitForFunction(() => {
    const t = document.querySelector('[data-testid="profile-json"]') as HTMLTextAreaElement | null;
    return !!t && t.value.trim().startsWith('{');
  });
  const ta = tid('profile-json');
  const cur = await ta.inputValue();
  if (!cur.includes('e2e-fast')) await ta.fill(fastProfile(cur));
  await tid('create-queue').click();
  await page.waitForFunction((n) => Array.from(document.querySelectorAll('[data-testid="queue-select"] option')).some((o) => o.textContent?.includes(n) && (o as HTMLOptionElement).selected), name);
}

const jobRow = (page: Page, kind: string, state: string) => page.locator(`[data-testid="job-row"][data-kind="${kind}"][data-state="${state}"]`).first();

export interface JobsFlowOptions {
  page: Page;
  /** a second, independent browser context on the same app (another window) */
  page2: Page;
  steps: Steps;
  shotsDir: string;
  tmpDir: string;
  /**
   * stops the headless server and starts it again on the same data dir; returns the new URL.
   * `whileDown` runs after the old server has exited and before the new one starts.
   */
  restart: (whileDown?: () => Promise<void>) => Promise<string>;
}

/**
 * Issue 11: the work belongs to the engine. Reload mid-queue, a second window acting at the same
 * time (refused conflicting action, pause from the other window), revert -> re-apply, export to a
 * bad path, and a guardrail pause that survives a restart and is resumed from the job list.
 */
export async function jobsFlow(o: JobsFlowOptions): Promise<void> {
  const { page, page2, steps, shotsDir } = o;
  const tid = (p: Page, id: string) => p.locator(`[data-testid="${id}"]`);
  const shot = (p: Page, name: string) => p.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });

  await steps.run('reload mid-queue: the running job is shown with live progress, Pause enabled, Run disabled', async () => {
    await newQueue(page, 'reload-mid-queue', FACTS_20, 20);
    await tid(page, 'queue-run').click();
    await jobRow(page, 'queue', 'running').locator('[data-testid="job-count"]').waitFor({ timeout: 120_000 });
    await page.reload();
    await tid(page, 'view-models').waitFor();
    const row = jobRow(page, 'queue', 'running');
    await row.waitFor({ timeout: 30_000 });
    const before = (await row.locator('[data-testid="job-title"]').textContent()) ?? '';
    if (!/reload-mid-queue/.test(before)) throw new Error(`the reloaded window shows another job: ${before}`);
    await tid(page, 'nav-queue').click();
    await tid(page, 'run-status').waitFor({ timeout: 30_000 });
    if (!(await tid(page, 'queue-run').isDisabled())) throw new Error('Run is enabled while the queue runs');
    if (await tid(page, 'queue-pause').isDisabled()) throw new Error('Pause is disabled in the reloaded window');
    // live progress: the done count moves on after the reload
    const count = async () => Number(((await tid(page, 'run-count').textContent()) ?? '0').split('/')[0]);
    const c0 = await count();
    await page.waitForFunction((c) => Number((document.querySelector('[data-testid="run-count"]')?.textContent ?? '0').split('/')[0]) > c, c0, { timeout: 120_000 });
    await shot(page, '10-reloaded-mid-queue');
  });

  await steps.run('second window during the run: a conflicting revert is refused at once naming the running job; Pause from there', async () => {
    await page2.locator('[data-testid="view-models"]').waitFor();
    await jobRow(page2, 'queue', 'running').waitFor({ timeout: 30_000 });
    await tid(page2, 'nav-ledger').click();
    await page2.locator('[data-testid="ledger-edit"][data-seq="1"] [data-testid="revert-to"]').click();
    // issue 19 item 13: the window says the model is busy (naming the job) before it asks to confirm
    // the revert, and offers to queue it behind the running job instead; this user declines
    const offer = (await tid(page2, 'confirm-text').textContent({ timeout: 30_000 })) ?? '';
    if (!/^Job #\d+ "Run queue #\d+ "reload-mid-queue".*is running and holds the model, so "Revert to #1" cannot start now/.test(offer)) throw new Error(`busy notice: ${offer}`);
    if (!/Queue it behind job #\d+/.test(offer)) throw new Error(`no offer to queue: ${offer}`);
    await tid(page2, 'confirm-cancel').click();
    await jobRow(page2, 'queue', 'running').locator('[data-testid="job-pause"]').click();
    // both windows see it pause
    await jobRow(page, 'queue', 'paused').waitFor({ timeout: 120_000 });
    await jobRow(page2, 'queue', 'paused').waitFor({ timeout: 30_000 });
    await tid(page2, 'nav-jobs').click();
    await shot(page2, '11-second-window-paused');
  });

  await steps.run('resume from the first window; the count goes on from where it paused', async () => {
    const paused = jobRow(page, 'queue', 'paused');
    const id = await paused.getAttribute('data-job-id');
    const at = /after (\d+) of 20/.exec((await paused.locator('[data-testid="job-paused-reason"]').textContent()) ?? '');
    if (!at) throw new Error('the paused job does not say how far it got');
    await paused.locator('[data-testid="job-resume"]').click();
    const running = page.locator(`[data-testid="jobs-panel"] [data-testid="job-row"][data-job-id="${id}"][data-state="running"]`);
    await running.locator('[data-testid="job-count"]').waitFor({ timeout: 60_000 });
    // the same job goes on counting: done never drops below where it paused, the total stays 20
    const [done, total] = ((await running.locator('[data-testid="job-count"]').textContent()) ?? '').split('/').map((x) => Number(x.trim()));
    if (total !== 20 || done < Number(at[1])) throw new Error(`after resume the count reads ${done} / ${total}; it paused after ${at[1]} of 20`);
    await tid(page, 'nav-queue').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="queue-item"][data-status="done"]').length === 20, undefined, { timeout: 600_000, polling: 500 });
    await page.locator(`[data-testid="jobs-panel"] [data-job-id="${id}"]`).waitFor({ state: 'detached', timeout: 30_000 });
  });

  await steps.run('revert -> re-apply: the confirmation counts the edits; re-apply records them again as new edits', async () => {
    await tid(page, 'nav-ledger').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="ledger-edit"][data-active="true"]').length >= 6, undefined, { timeout: 30_000 });
    const live0 = await page.locator('[data-testid="ledger-edit"][data-active="true"]').count();
    const seqs = await page.locator('[data-testid="ledger-edit"][data-active="true"]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))).sort((a, b) => a - b));
    const to = seqs[seqs.length - 3];
    await page.locator(`[data-testid="ledger-edit"][data-seq="${to}"] [data-testid="revert-to"]`).click();
    const text = (await tid(page, 'confirm-text').textContent()) ?? '';
    if (!/^2 live edits will be taken out/.test(text)) throw new Error(`confirmation: ${text}`);
    await tid(page, 'confirm-ok').click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="ledger-edit"][data-active="true"]').length === n, live0 - 2, { timeout: 60_000 });
    const last = seqs[seqs.length - 1];
    await page.locator(`[data-testid="ledger-edit"][data-seq="${last}"] [data-testid="reapply"]`).click();
    const t2 = (await tid(page, 'confirm-text').textContent()) ?? '';
    if (!/^#\d+ \(.*\), #\d+ \(.*\) will be edited again/.test(t2)) throw new Error(`re-apply confirmation: ${t2}`);
    await tid(page, 'confirm-ok').click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="ledger-edit"][data-active="true"]').length === n, live0, { timeout: 120_000 });
    const replayEvents = await page.locator('[data-testid="ledger-event"][data-kind="replay"]').count();
    if (replayEvents < 2) throw new Error(`expected 2 replay events in the audit log, got ${replayEvents}`);
    await shot(page, '12-reapplied');
  });

  await steps.run('export to a bad path: a clear error, the job fails, nothing stays busy; a relative path is refused', async () => {
    await tid(page, 'export-dir').fill('/proc/nope/export');
    await tid(page, 'export-run').click();
    await tid(page, 'export-error').waitFor({ timeout: 60_000 });
    const msg = (await tid(page, 'export-error').textContent()) ?? '';
    if (!/\/proc\/nope/.test(msg)) throw new Error(`export error: ${msg}`);
    if (await tid(page, 'export-run').isDisabled()) throw new Error('Export stays disabled after the failure');
    await tid(page, 'nav-jobs').click();
    await page.locator('[data-testid="jobs-all"] [data-testid="job-row"][data-kind="export"][data-state="failed"]').first().waitFor({ timeout: 30_000 });
    // the failure is in the engine's error history: a reloaded window (no errors of its own) shows it
    await page.reload();
    await page.locator('[data-testid="view-models"]').waitFor();
    await tid(page, 'nav-jobs').click();
    const entry = page.locator('[data-testid="error-entry"]:not([data-job-id=""])', { hasText: '/proc/nope' }).first();
    await entry.waitFor({ timeout: 30_000 });
    // issue 19 item 13: the job log opens in sight, not above the scrolled-down error history
    // the views scroll inside <main>; a short window makes sure there is something to scroll
    const size = page.viewportSize();
    await page.setViewportSize({ width: size?.width ?? 1280, height: 360 });
    await page.evaluate(() => {
      const m = document.querySelector('main')!;
      m.scrollTop = m.scrollHeight;
    });
    if ((await page.evaluate(() => document.querySelector('main')!.scrollTop)) === 0) throw new Error('the Jobs view is too short to scroll: the step proves nothing');
    await entry.locator('[data-testid="error-job"]').click();
    await tid(page, 'job-log-line').first().waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => {
      const r = document.querySelector('[data-testid="job-log-view"]')?.getBoundingClientRect();
      const m = document.querySelector('main')!.getBoundingClientRect();
      return !!r && r.top >= m.top - 1 && r.top < m.bottom;
    }, undefined, { timeout: 10_000 });
    if (size) await page.setViewportSize(size);
    await tid(page, 'nav-ledger').click();
    await tid(page, 'export-dir').fill('relative/out');
    await tid(page, 'export-run').click();
    await page.waitForFunction(() => /relative; give an absolute path/.test(document.querySelector('[data-testid="export-error"]')?.textContent ?? ''), undefined, { timeout: 30_000 });
  });

  let restartedUrl = '';
  await steps.run('guardrail pause (max L1 growth 0 %) -> restart the app -> the paused job is there and resumes anyway', async () => {
    await newQueue(page, 'guardrail');
    await tid(page, 'max-l1').fill('0');
    await tid(page, 'queue-run').click();
    await jobRow(page, 'queue', 'paused').waitFor({ timeout: 240_000 });
    const id = await jobRow(page, 'queue', 'paused').getAttribute('data-job-id');
    // issue 19 item 13: while the server is down the window says the engine is unreachable and the
    // paused job's controls are disabled (not just a red dot with live buttons)
    restartedUrl = await o.restart(async () => {
      await tid(page, 'engine-unreachable').waitFor({ timeout: 30_000 });
      const down = page.locator(`[data-testid="jobs-panel"] [data-testid="job-row"][data-job-id="${id}"]`);
      for (const b of ['job-resume', 'job-override', 'job-cancel'])
        if (!(await down.locator(`[data-testid="${b}"]`).isDisabled())) throw new Error(`${b} is enabled while the engine is unreachable`);
    });
    await page.goto(restartedUrl);
    await tid(page, 'view-models').waitFor();
    await tid(page, 'model-dir').fill(DEMO_MODEL);
    await tid(page, 'open-model').click();
    const row = page.locator(`[data-testid="jobs-panel"] [data-testid="job-row"][data-job-id="${id}"][data-state="paused"]`);
    await row.waitFor({ timeout: 120_000 });
    const reason = (await row.locator('[data-testid="job-paused-reason"]').textContent()) ?? '';
    if (!/guardrail: L1 growth of .* above the 0% guardrail/.test(reason)) throw new Error(`pause reason: ${reason}`);
    await shot(page, '13-paused-after-restart');
    // issue 19 item 10: the settings live with the queue in the ledger, not in the form: the restarted
    // window shows the L1 limit the queue runs with, and a plain Resume keeps checking it (the next
    // edit pauses the job again) instead of running the rest unchecked
    await tid(page, 'nav-queue').click();
    await page.waitForFunction(() => (document.querySelector('[data-testid="max-l1"]') as HTMLInputElement | null)?.value === '0', undefined, { timeout: 30_000 });
    const stored = (await tid(page, 'queue-settings').textContent()) ?? '';
    if (!/L1 growth ≤ 0 %/.test(stored)) throw new Error(`stored settings after the restart: ${stored}`);
    if ((await tid(page, 'health-every').inputValue()) !== '0') throw new Error('health every is not the stored 0');
    const doneBefore = await page.locator('[data-testid="queue-item"][data-status="done"]').count();
    await tid(page, 'queue-resume').click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="queue-item"][data-status="done"]').length === n + 1, doneBefore, { timeout: 240_000, polling: 500 });
    await row.waitFor({ timeout: 120_000 });
    const again = (await row.locator('[data-testid="job-paused-reason"]').textContent()) ?? '';
    if (!/above the 0% guardrail/.test(again)) throw new Error(`after a plain Resume: ${again}`);
    await row.locator('[data-testid="job-override"]').click();
    await page.locator(`[data-testid="job-row"][data-job-id="${id}"]`).first().waitFor({ state: 'detached', timeout: 480_000 });
    await tid(page, 'nav-queue').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="queue-item"][data-status="done"]').length === 5, undefined, { timeout: 60_000, polling: 500 });
    await tid(page, 'nav-ledger').click();
    for (const kind of ['guardrail_pause', 'override', 'resume']) await page.locator(`[data-testid="ledger-event"][data-kind="${kind}"]`).first().waitFor({ timeout: 30_000 });
  });

  await steps.run('a pickle-only folder: the conversion command is shown whole, in the toast and under the form', async () => {
    const dir = path.join(o.tmpDir, 'pickle-only-model-with-a-rather-long-folder-name-to-copy');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(DEMO_MODEL, 'config.json'), path.join(dir, 'config.json'));
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), Buffer.alloc(64));
    await tid(page, 'nav-models').click();
    await tid(page, 'model-dir').fill(dir);
    await tid(page, 'open-model').click();
    const kept = (await tid(page, 'open-error').textContent({ timeout: 60_000 })) ?? '';
    if (!kept.includes(`save_pretrained('${dir}', safe_serialization=True)"`)) throw new Error(`the command under the form: ${kept}`);
    // nothing of it is cut off: every element holding it shows all of its width
    for (const sel of ['[data-testid="open-error"]', '[data-testid="toast-error"]']) {
      const clipped = await page.locator(sel).last().evaluate((el) => el.scrollWidth > el.clientWidth + 1);
      if (clipped) throw new Error(`${sel} clips the conversion command`);
    }
    const toast = (await page.locator('[data-testid="toast-error"]').last().textContent()) ?? '';
    if (!toast.includes('safe_serialization=True')) throw new Error(`toast: ${toast}`);
  });
}
