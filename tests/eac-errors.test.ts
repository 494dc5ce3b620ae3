// Issue 20: every failure the app throws on purpose is an EacError with a code (src-main/engine/errors.ts), so the
// CLI's exit code, the wire and the UI can tell bad input from a failure, and an invariant only a bug can break says
// so (internalError, code 'internal'). This scans the sources for the shapes that carry no code and names each
// file:line, so a new bare `throw new Error(…)` fails here instead of exiting 1 with no code.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import os from 'node:os';
import { readFileInto } from '../src-main/engine/edit/atomic-write';
import { symmetricEigen } from '../src-main/engine/edit/eigen';
import { dot } from '../src-main/engine/edit/linalg';
import { bundledProfiles, checkProfileFits, loadBundledProfile, parseProfile } from '../src-main/engine/edit/profile';
import { keyStats } from '../src-main/engine/edit/stats';
import { exitCodeFor, internalError } from '../src-main/engine/errors';
import { loadTaskFile } from '../src-main/engine/eval/tasks';
import { renderTemplate } from '../src-main/engine/eval/tasks/render';
import { retention, runTask } from '../src-main/engine/eval/tasks/score';
import { resourcesDir } from '../src-main/engine/paths';
import { LoadedModel } from '../src-main/engine/runtime/model';
import { parseFacts } from '../src-main/engine/facts/parse';
import { parseServeArgs } from '../src-main/server/main';
import { decodeF32 } from '../src-main/store/factors';
import { FIXTURES } from './shared';

const ROOT = path.resolve(__dirname, '..');
/** src-main (engine, store, jobs, api, CLI, server, Electron main) and the renderer's non-UI library. */
const SCANNED = ['src-main', 'src-renderer/src/lib'];

/**
 * Errors with no code: a plain Error (with or without `new`), a built-in subclass (RangeError, TypeError, ...), a DOM
 * exception (the old cancellation shape), a plain rejection.
 */
const BARE = /\b(?:new\s+)?(?:Error|RangeError|TypeError|SyntaxError|ReferenceError|EvalError|URIError|AggregateError|DOMException)\(/;

/**
 * The only places where a plain Error is the contract, each matched by file and a piece of its line (not a line
 * number, so unrelated edits do not break it) and each with its reason.
 */
const ALLOWED: { file: string; contains: string; why: string }[] = [
  {
    file: 'src-main/engine/paths.ts',
    contains: "code: 'ENOTDIR'",
    // mkdirsOnce stands in for fs.mkdirSync({ recursive: true }) and fails the way Node's fs does: an ErrnoException
    // whose `code` is 'ENOTDIR'; its callers (and the disk-error classifiers in the store and export) match that
    // errno code, which an EacError code would replace.
    why: "imitates Node's fs ENOTDIR error, whose errno code callers match",
  },
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|js|mts|svelte)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Lines of `text` that construct a bare error, skipping comment lines (which may quote the pattern). */
function bareErrorLines(text: string): { line: number; text: string }[] {
  const hits: { line: number; text: string }[] = [];
  text.split('\n').forEach((l, i) => {
    const t = l.trim();
    if (t.startsWith('//') || t.startsWith('*') || t.startsWith('/*')) return;
    if (BARE.test(l)) hits.push({ line: i + 1, text: t });
  });
  return hits;
}

describe('no bare Error in the sources (issue 20)', () => {
  const files = SCANNED.flatMap(sourceFiles);

  it('scans a real tree', () => {
    // guards the walk itself: an empty or mis-rooted scan would pass the check below vacuously
    expect(files).toContain('src-main/engine/errors.ts');
    expect(files).toContain('src-renderer/src/lib/transport.ts');
    expect(files.length).toBeGreaterThan(100);
  });

  it('the detector finds each bare shape and skips comments', () => {
    const sample = [
      "throw new Error('x');",
      "reject(new Error('x'));",
      'return Promise.reject(new Error(msg));',
      "throw new DOMException('edit cancelled', 'AbortError');",
      "throw Object.assign(new Error(USAGE), { help: true });",
      'if (a.length !== n) throw new RangeError(`A has ${a.length}`);',
      "throw new TypeError('not a string');",
      "throw Error('no new');",
      "// throw new Error('in a comment')",
      "throw new EacError('usage', 'x');",
      "throw internalError('x');",
      "throw new StatsError('bad-layer', 'x');",
      'if (e instanceof RangeError) return;',
    ].join('\n');
    expect(bareErrorLines(sample).map((h) => h.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('every thrown error outside the allow-list is an EacError (file:line listed otherwise)', () => {
    const used = new Set<number>();
    const found: string[] = [];
    for (const f of files) {
      for (const h of bareErrorLines(fs.readFileSync(path.join(ROOT, f), 'utf8'))) {
        const k = ALLOWED.findIndex((a) => a.file === f && h.text.includes(a.contains));
        if (k >= 0) used.add(k);
        else found.push(`${f}:${h.line}: ${h.text}`);
      }
    }
    expect(found, 'throw an EacError with a code from ERROR_CODES, or internalError() for a bug-only invariant').toEqual([]);
    // an allow-list entry whose line is gone must go too, so the list stays the true set of exceptions
    expect(ALLOWED.filter((_, k) => !used.has(k)).map((a) => a.file)).toEqual([]);
  });
});

/** What a call throws (or undefined), for asserting its code, exit code and detail. */
function thrown(f: () => unknown): { code?: string; message?: string; detail?: Record<string, unknown>; help?: boolean; exit: number } | undefined {
  try {
    f();
  } catch (e) {
    return { ...(e as object), message: (e as Error).message, exit: exitCodeFor(e) };
  }
  return undefined;
}

describe('the converted sites carry their code (issue 20)', () => {
  it('bad serve options are usage errors (exit 2); --help keeps its flag', () => {
    expect(thrown(() => parseServeArgs(['--port', 'x']))).toMatchObject({ code: 'usage', exit: 2 });
    expect(thrown(() => parseServeArgs(['--bogus']))).toMatchObject({ code: 'usage', exit: 2 });
    expect(thrown(() => parseServeArgs(['--help']))).toMatchObject({ code: 'usage', help: true });
  });

  it('a facts file that is not facts is bad_facts (exit 2), message kept', () => {
    expect(thrown(() => parseFacts('empty.json', '  \n'))).toMatchObject({ code: 'bad_facts', exit: 2, message: expect.stringContaining('Cannot import "empty.json": the file is empty') });
  });

  it('a broken task template is bad_task with the problem in detail.issues', () => {
    const t = thrown(() => renderTemplate('a } b', {}));
    expect(t).toMatchObject({ code: 'bad_task', exit: 2 });
    expect(t?.detail?.issues).toEqual([t?.message]);
  });

  it('a profile for another model is bad_profile (exit 2)', () => {
    const p = loadBundledProfile(bundledProfiles()[0]);
    expect(thrown(() => checkProfileFits(p, `not-${p.arch}`, 1000))).toMatchObject({ code: 'bad_profile', exit: 2 });
  });

  it('a stored factor blob of the wrong size is factor_corrupt (exit 1)', () => {
    expect(thrown(() => decodeF32(new Uint8Array(3)))).toMatchObject({ code: 'factor_corrupt', exit: 1 });
  });

  it('a bug-only invariant is code internal (exit 1)', () => {
    expect(thrown(() => {
      throw internalError('x');
    })).toMatchObject({ code: 'internal', exit: 1, message: 'x' });
  });
});

/** What an async call rejects with, like `thrown`. */
async function rejected(f: () => Promise<unknown>): Promise<ReturnType<typeof thrown>> {
  try {
    await f();
  } catch (e) {
    return { ...(e as object), message: (e as Error).message, exit: exitCodeFor(e) };
  }
  return undefined;
}

describe('the former RangeErrors carry their code (issue 20)', () => {
  it('a health run with a bad batch size or example count is bad_params (exit 2)', async () => {
    const [task] = loadTaskFile(path.join(resourcesDir(), 'tasks', 'world-a.json'));
    const generate = async (prompts: string[]) => prompts.map(() => '');
    expect(await rejected(() => runTask(task, generate, { batchSize: 0 }))).toMatchObject({ code: 'bad_params', exit: 2, message: expect.stringContaining('batch size') });
    expect(await rejected(() => runTask(task, generate, { n: 1.5 }))).toMatchObject({ code: 'bad_params', exit: 2, message: expect.stringContaining('1.5') });
  });

  it('key statistics asking more tokens per sample than the model has positions are bad_params (exit 2), naming the limit', async () => {
    const model = LoadedModel.open(path.join(FIXTURES, 'gpt2-world-a'));
    try {
      const limit = model.cfg.maxPositions;
      const t = await rejected(() => keyStats(model, [0], { samples: 1, maxTokensPerSample: limit + 1, cacheDir: os.tmpdir() }));
      expect(t).toMatchObject({ code: 'bad_params', exit: 2, message: expect.stringContaining(`use at most ${limit}`) });
      expect(await rejected(() => keyStats(model, [0], { samples: 0, cacheDir: os.tmpdir() }))).toMatchObject({ code: 'bad_params', exit: 2 });
    } finally {
      await model.release();
    }
  });

  it('a profile with a bad stats.maxTokensPerSample is bad_profile (exit 2) when it is read', () => {
    const p = loadBundledProfile(bundledProfiles()[0]);
    expect(thrown(() => parseProfile({ ...p, stats: { ...p.stats, maxTokensPerSample: 0 } }))).toMatchObject({ code: 'bad_profile', exit: 2, message: expect.stringContaining('stats.maxTokensPerSample') });
  });

  it('key statistics with a non-finite entry are non_finite (exit 2) with the entry in detail', () => {
    const A = Float64Array.from([1, 0, 0, Number.POSITIVE_INFINITY]);
    expect(thrown(() => symmetricEigen(A, 2))).toMatchObject({ code: 'non_finite', exit: 2, detail: { row: 1, column: 1 } });
  });

  it('a cache file of the wrong size is io_error (exit 1)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-read-into-'));
    try {
      const f = path.join(dir, 'x.bin');
      fs.writeFileSync(f, new Uint8Array(3));
      expect(thrown(() => readFileInto(f, new Uint8Array(4)))).toMatchObject({ code: 'io_error', exit: 1, detail: { size: 3, expected: 4 } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bug-only invariants (vector lengths, scores outside [0, 1]) are code internal (exit 1)', () => {
    expect(thrown(() => dot([1, 2], [1]))).toMatchObject({ code: 'internal', exit: 1 });
    expect(thrown(() => symmetricEigen(new Float64Array(3), 2))).toMatchObject({ code: 'internal', exit: 1 });
    expect(thrown(() => retention(-1, 1))).toMatchObject({ code: 'internal', exit: 1 });
  });
});
