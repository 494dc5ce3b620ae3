// The UI host (ApiHost, shared by the Electron window and headless mode) outliving its engine
// process: SIGKILL the engine mid-session (what an OOM kill does) and every window is told, a new
// engine process starts, the last workspace is reopened from its ledger with the same live edits,
// and calls work again. Closing the workspace replaces the engine process, so the model's memory
// goes back to the OS (resident set of the old vs the new process). Plus the recent-models list.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostEvent } from '../../src-main/api/wire';
import { ApiHost } from '../../src-main/host/api-host';
import { RecentModels } from '../../src-main/host/recent-models';
import { fastProfile, GPT2, tmpDir, worldEdits } from '../jobs/helpers';

/** Resident set of a process in bytes (Linux /proc). */
function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// the engine's resident set is read from /proc
const noProc = process.platform === 'linux' ? '' : ` (skipped: reads /proc, which ${process.platform} lacks)`;
describe.skipIf(!!noProc)(`ApiHost with an engine process that dies${noProc}`, () => {
  const dir = tmpDir('eac-host-');
  const events: HostEvent[] = [];
  let host: ApiHost;
  let seq = 0;
  const call = async <T = unknown>(method: string, params: unknown): Promise<T> => {
    const r = await host.call('test', ++seq, method, params, () => {});
    if (!r.ok) throw new Error(`${method}: ${r.error.message} (${r.error.code})`);
    return r.result as T;
  };
  const nextEvent = (name: string) =>
    new Promise<HostEvent>((resolve) => {
      const off = host.subscribe((ev) => {
        if (ev.name === name) {
          off();
          resolve(ev);
        }
      });
    });

  beforeAll(() => {
    // read by the engine process when it is spawned
    process.env.EAC_DATA_DIR = path.join(dir, 'data');
    process.env.EAC_CACHE_DIR = path.join(dir, 'cache');
    host = new ApiHost({ dataDir: path.join(dir, 'data') });
    host.subscribe((ev) => events.push(ev));
  });
  afterAll(async () => {
    await host?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a SIGKILLed engine is replaced and the workspace reopened from its ledger with the same edits', async () => {
    const opened = await call<{ liveEdits: number; dbFile: string }>('workspace.open', { modelDir: GPT2 });
    expect(opened.liveEdits).toBe(0);
    const { queue } = await call<{ queue: { id: number } }>('queue.create', { name: 'q', method: 'rome', profile: fastProfile('gpt2-world-a'), requests: worldEdits(2) });
    const run = await call<{ state: string; editIds: number[] }>('queue.run', { queueId: queue.id });
    expect(run.state).toBe('done');
    const before = await call<{ edits: { id: number; active: boolean }[] }>('ledger.history', {});
    expect(before.edits.filter((e) => e.active)).toHaveLength(2);

    const oldPid = host.engine.pid!;
    const exited = nextEvent('engine.exited');
    const restarted = nextEvent('engine.restarted');
    process.kill(oldPid, 'SIGKILL');
    const ex = (await exited).payload as { signal: string | null; restarting: boolean; message: string };
    expect(ex).toMatchObject({ signal: 'SIGKILL', restarting: true });
    expect(ex.message).toMatch(/SIGKILL/);
    const re = (await restarted).payload as { pid: number; reopened: string | null; workspace?: { liveEdits: number; dbFile: string; integrity: string[] }; error?: string };
    expect(re.error).toBeUndefined();
    expect(re.reopened).toBe(GPT2);
    expect(re.pid).not.toBe(oldPid);
    expect(alive(oldPid)).toBe(false);
    expect(re.workspace).toMatchObject({ liveEdits: 2, dbFile: opened.dbFile, integrity: [] });

    // the new engine serves the same ledger
    const after = await call<{ edits: { id: number; active: boolean }[] }>('ledger.history', {});
    expect(after.edits.map((e) => [e.id, e.active])).toEqual(before.edits.map((e) => [e.id, e.active]));
    expect(host.engine.pid).toBe(re.pid);
  });

  it('an engine that dies again while reopening is replaced by an empty one instead of looping', async () => {
    await call('workspace.open', { modelDir: GPT2 });
    const restartedEvents: HostEvent[] = [];
    const off = host.subscribe((ev) => ev.name === 'engine.restarted' && restartedEvents.push(ev));
    const reported = nextEvent('engine.restarted');
    // the host sends workspace.open to the new process as soon as it is ready; the client's
    // 'restart' event comes right after that send, so this kill lands while the reopen is running
    const offRestart = host.engine.on('restart', (r) => {
      offRestart();
      process.kill(r.pid!, 'SIGKILL');
    });
    process.kill(host.engine.pid!, 'SIGKILL');
    const re = (await reported).payload as { reopened: string | null; error?: string };
    expect(re.reopened).toBeNull();
    expect(re.error).toMatch(/died again while reopening .*gpt2-world-a/);
    // the third engine process serves, with nothing open, and nothing else was reported
    expect(await call('workspace.info', {})).toBeNull();
    off();
    expect(restartedEvents).toHaveLength(1);
    // open it again by hand for the next test
    expect((await call<{ liveEdits: number }>('workspace.open', { modelDir: GPT2 })).liveEdits).toBe(2);
  });

  it('closing the workspace gives the engine process memory back (a fresh process replaces it)', async () => {
    // an edit in this engine process loads the model's sessions (generation, taps, the loss graph)
    const { queue } = await call<{ queue: { id: number } }>('queue.create', { name: 'q2', method: 'rome', profile: fastProfile('gpt2-world-a'), requests: worldEdits(1, 2) });
    expect((await call<{ state: string }>('queue.run', { queueId: queue.id })).state).toBe('done');
    const pid = host.engine.pid!;
    const loaded = rssBytes(pid);
    await call('workspace.close', {});
    const fresh = host.engine.pid!;
    expect(fresh).not.toBe(pid);
    expect(alive(pid)).toBe(false);
    const empty = rssBytes(fresh);
    console.log(`engine RSS with the gpt2 fixture workspace open: ${(loaded / 2 ** 20).toFixed(0)} MiB; after workspace.close (new process): ${(empty / 2 ** 20).toFixed(0)} MiB`);
    // at least the checkpoint's weight bytes come back (each session holds its own copy)
    const weights = fs.statSync(path.join(GPT2, 'model.safetensors')).size;
    expect(loaded - empty).toBeGreaterThan(weights);
    // no engine.restarted notice for a requested replacement (one per kill test above)
    expect(events.filter((e) => e.name === 'engine.restarted')).toHaveLength(2);
    // and nothing to reopen on the next crash
    expect(await call('workspace.info', {})).toBeNull();
  });

  it('remembers opened models, most recent first, in the data folder', async () => {
    const r = await call<{ models: { dir: string }[] }>('models.recent', {});
    expect(r.models.map((m) => m.dir)).toEqual([GPT2]);
    const list = new RecentModels(path.join(dir, 'other'));
    list.add('/a', 'cpu', 1);
    list.add('/b', undefined, 2);
    list.add('/a', 'webgpu', 3);
    expect(list.list().map((m) => [m.dir, m.device])).toEqual([
      ['/a', 'webgpu'],
      ['/b', undefined],
    ]);
    for (let i = 0; i < 15; i++) list.add(`/m${i}`, undefined, 10 + i);
    expect(list.list()).toHaveLength(10);
    fs.writeFileSync(list.file, '{not json');
    expect(list.list()).toEqual([]);
  });
});
