// The packaged app's engine transport without Electron: utilityProcessSpawner (the EngineChannel
// over Electron's utilityProcess) driving a stand-in utilityProcess module — a Node child whose
// process.parentPort mimics Electron's (./fake-parent-port.mjs), so engine-process.ts takes its
// utility-process branch. Calls, progress, and a SIGKILL answered by a restart.
import { fork } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { utilityProcessSpawner, type UtilityProcessModuleLike } from '../../src-main/electron/engine-channel';
import { EngineClient, type EngineExit } from '../../src-main/jobs/client';
import { tsxLoaderUrl } from '../../src-main/jobs/channel';
import { GPT2 } from '../jobs/helpers';

const PARENT_PORT = new URL('./fake-parent-port.mjs', import.meta.url).href;
const forked: string[][] = [];

const fakeUtilityProcess: UtilityProcessModuleLike = {
  fork(modulePath, args = [], options = {}) {
    forked.push([modulePath, ...args]);
    const child = fork(modulePath, args, {
      execArgv: ['--import', tsxLoaderUrl(), '--import', PARENT_PORT, ...(options.execArgv ?? [])],
      env: options.env,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return {
      get pid() {
        return child.pid;
      },
      postMessage: (m: unknown) => void child.send(m as object),
      on(event: 'message' | 'exit', cb: (x: never) => void) {
        // Electron reports only an exit code (a signal shows as a non-zero code)
        if (event === 'message') child.on('message', cb as (m: unknown) => void);
        else child.on('exit', (code, signal) => (cb as (c: number) => void)(code ?? (signal ? 128 + 9 : 1)));
        return this;
      },
      kill: () => child.kill(),
    };
  },
};

describe('EngineChannel over a utilityProcess', () => {
  const engine = new EngineClient({ spawn: utilityProcessSpawner(fakeUtilityProcess), restart: true });
  afterAll(() => engine.close());

  it('runs the engine entry with the engine marker, answers calls with progress, and restarts after a kill', async () => {
    const phases: string[] = [];
    const info = await engine.call('openModel', { dir: GPT2 }, (p) => phases.push(p.phase));
    expect(info.arch).toBe('gpt2');
    expect(phases).toContain('load');
    expect(forked[0][0]).toBe(path.resolve('src-main/jobs/engine-process.ts'));
    expect(forked[0][1]).toBe('--eac-engine');
    const [row] = await engine.call('generate', { prompts: ['Nyxlax Sovhyv was born in'], maxNewTokens: 3, stopAtEos: false });
    expect(row.newIds).toHaveLength(3);

    const first = engine.pid!;
    const exit = new Promise<EngineExit>((r) => engine.on('exit', r));
    const restarted = new Promise<{ pid: number | undefined }>((r) => engine.on('restart', r));
    process.kill(first, 'SIGKILL');
    const e = await exit;
    expect(e).toMatchObject({ pid: first, restarting: true });
    expect(e.error.code).toBe('worker_crashed');
    expect(e.error.message).toMatch(/exit code 137/);
    const r = await restarted;
    expect(r.pid).not.toBe(first);
    expect(forked).toHaveLength(2);
    // the new process starts empty
    await expect(engine.call('generate', { prompts: ['x'], maxNewTokens: 1 })).rejects.toMatchObject({ code: 'no_model' });
    expect((await engine.call('openModel', { dir: GPT2 })).arch).toBe('gpt2');
  });
});
