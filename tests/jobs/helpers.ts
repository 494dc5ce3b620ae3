import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadProfile, type EditProfile } from '../../src-main/engine/edit';
import { parseFacts } from '../../src-main/engine/facts';
import type { EditRequest } from '../../src-main/engine/facts/types';
import { EngineClient } from '../../src-main/jobs/client';
import type { CliIO } from '../../src-main/cli/command';
import { main } from '../../src-main/cli/main';

import { FIXTURES } from '../shared';

export const FIX = FIXTURES;
export const GPT2 = path.join(FIX, 'gpt2-world-a');
export const LLAMA = path.join(FIX, 'llama-world-a');

export function tmpDir(prefix = 'eac-jobs-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The fixture profile with small statistics and fewer optimisation steps (fast tests). */
export function fastProfile(name: 'gpt2-world-a' | 'llama-world-a', steps = 10, samples = 200): EditProfile {
  const p = structuredClone(loadProfile(name));
  p.stats.samples = samples;
  p.rome.vSteps = steps;
  p.memit.vSteps = steps;
  p.alphaedit.vSteps = steps;
  p.eac.scoreStep = Math.max(1, Math.floor(steps / 2));
  p.contextTemplates.rome = [[5, 2]];
  p.contextTemplates.memit = [[5, 2]];
  return p;
}

let cached: EditRequest[] | null = null;
export function worldEdits(n: number, offset = 0): EditRequest[] {
  if (!cached) {
    const file = path.join(FIX, 'world-a', 'edits.json');
    cached = parseFacts('edits.json', fs.readFileSync(file, 'utf8')).requests;
  }
  return cached.slice(offset, offset + n);
}

/**
 * An engine process with the studio handlers, its cache and data folders inside a fresh temp folder;
 * `restart()` replaces the engine process; `close()` ends it and removes the folder. Call in beforeAll (it sets EAC_CACHE_DIR /
 * EAC_DATA_DIR, which the engine process inherits at its start).
 */
export function studioEngine(dir: string): { engine: EngineClient; restart(): Promise<EngineClient>; close(): Promise<void> } {
  process.env.EAC_CACHE_DIR = path.join(dir, 'cache');
  process.env.EAC_DATA_DIR = path.join(dir, 'data');
  const start = () => new EngineClient({ handlerModules: [path.resolve('src-main/jobs/studio/index.ts')] });
  const h = {
    engine: start(),
    /** a fresh engine process on the same folders (the old one closed), as after an app restart */
    async restart() {
      await h.engine.close();
      h.engine = start();
      return h.engine;
    },
    async close() {
      await h.engine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/**
 * `studioEngine(dir)` for the enclosing describe: started in its beforeAll, closed (and `dir` removed) in its
 * afterAll. `engine` is the client now serving (a new one after `restart()`).
 */
export function useStudioEngine(dir: string): { readonly engine: EngineClient; restart(): Promise<EngineClient> } {
  let studio: ReturnType<typeof studioEngine> | undefined;
  beforeAll(() => {
    studio = studioEngine(dir);
  });
  afterAll(() => studio?.close());
  const started = () => {
    if (!studio) throw new Error('useStudioEngine: the engine starts in beforeAll; use it inside a test or a later hook');
    return studio;
  };
  return {
    get engine() {
      return started().engine;
    },
    restart: () => started().restart(),
  };
}

/** Runs the `eac` CLI in this process and collects what it prints (stdout, stderr) and its exit code. */
export async function runEac(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (s) => void (out += s), err: (s) => void (err += s), cwd: process.cwd(), env };
  const code = await main(args, io);
  return { code, out, err };
}
