// The one error type (issue 11): every error class is an EacError built code-first, the CLI's exit codes and the
// README's exit-code table come from ERROR_CODES, and code / message / detail cross the engine wire unchanged.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AbortError as EacAbortError,
  cancelledError,
  EacError,
  ERROR_CODES,
  errorCode,
  exitCodeFor,
  exitCodeTable,
  isCancelled,
  isEacError,
  throwIfAborted,
  toWire,
  type ErrorCode,
} from '../src-main/engine/errors';
import { EngineError, fromWire } from '../src-main/jobs/protocol';
import { EngineClient } from '../src-main/jobs/client';
import { toErrorInfo } from '../src-main/jobs/worker';
import { CheckpointError } from '../src-main/engine/checkpoint/errors';
import { ExportError } from '../src-main/engine/export';
import { LedgerError } from '../src-main/store/ledger';
import { MigrationError, SchemaTooNewError } from '../src-main/store/migrate';
import { StatsError } from '../src-main/engine/edit/stats-npz';
import { NotPositiveDefiniteError } from '../src-main/engine/edit/linalg';
import { AbortError, runTask } from '../src-main/engine/eval/tasks/score';
import { keyStats } from '../src-main/engine/edit/stats';
import { TaskValidationError } from '../src-main/engine/eval/tasks/schema';
import { ContractError } from '../src-main/api/errors';
import { UsageError, defineCommand, type CliIO } from '../src-main/cli/command';
import { main } from '../src-main/cli/main';

const ROOT = path.resolve(__dirname, '..');

describe('error classes', () => {
  // one row per class: (class, a code it is thrown with) -> constructed as new C(code, message)
  const classes: [string, new (code: never, message: string, opts?: { detail?: Record<string, unknown> }) => EacError, ErrorCode][] = [
    ['EngineError', EngineError, 'bad_params'],
    ['CheckpointError', CheckpointError, 'no_config'],
    ['ExportError', ExportError, 'unsafe_target'],
    ['LedgerError', LedgerError, 'locked'],
    ['MigrationError', MigrationError, 'not_ledger'],
    ['SchemaTooNewError', SchemaTooNewError, 'schema_too_new'],
    ['StatsError', StatsError, 'bad-npy'],
    ['NotPositiveDefiniteError', NotPositiveDefiniteError, 'not-positive-definite'],
    ['AbortError', AbortError, 'cancelled'],
    ['TaskValidationError', TaskValidationError, 'bad_task'],
    ['ContractError', ContractError, 'bad_params'],
    ['UsageError', UsageError, 'usage'],
  ];

  it.each(classes)('%s is an EacError taking (code, message, opts)', (name, C, code) => {
    const e = new C(code as never, `a ${name} message`, { detail: { n: 1 } });
    expect(e).toBeInstanceOf(C);
    expect(e).toBeInstanceOf(EacError);
    expect(e).toBeInstanceOf(Error);
    expect(isEacError(e)).toBe(true);
    expect([e.name, e.code, e.message, e.detail]).toEqual([name, code, `a ${name} message`, { n: 1 }]);
    expect(errorCode(e)).toBe(code);
    expect(Object.keys(ERROR_CODES)).toContain(code);
  });

  it('covers every error class in src-main, and none extends Error directly', () => {
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, d.name);
        if (d.isDirectory()) walk(p);
        else if (/\.ts$/.test(d.name)) {
          // `extends eacErrorClass<Codes>('Name')` is an EacError subclass written through the one base factory
          for (const m of fs.readFileSync(p, 'utf8').matchAll(/class (\w*Error) extends (\w+)/g)) found.push(`${m[1]} extends ${m[2] === 'eacErrorClass' ? 'EacError' : m[2]}`);
        }
      }
    };
    walk(path.join(ROOT, 'src-main'));
    const names = new Set(classes.map((c) => c[0]));
    expect(found).toContain('EacError extends Error');
    for (const f of found) {
      const [cls, , base] = f.split(' ');
      if (cls === 'EacError') continue;
      expect(base, f).not.toBe('Error');
      if (base === 'EacError') expect(names.has(cls), `${cls} is missing from this test`).toBe(true);
    }
    // the twelve classes of issue 11, each found in the source
    expect(found.filter((f) => f.endsWith(' extends EacError')).length).toBeGreaterThanOrEqual(classes.length);
  });

  it('factories keep the structured facts in detail and behind their old fields', () => {
    const np = NotPositiveDefiniteError.at(3, -0.5, 8, 0.25);
    expect([np.code, np.index, np.pivot, np.n, np.smallestPositive]).toEqual(['not-positive-definite', 3, -0.5, 8, 0.25]);
    expect(np.message).toContain('smallest pivot -0.5 at index 3 of 8');
    expect(NotPositiveDefiniteError.at(0, NaN, 2, Infinity).smallestPositive).toBe(Infinity);
    const st = SchemaTooNewError.of(9, 4, 'x.sqlite');
    expect([st.code, st.dbVersion, st.knownVersion, st.file]).toEqual(['schema_too_new', 9, 4, 'x.sqlite']);
    const tv = TaskValidationError.of('t.json', ['a', 'b']);
    expect([tv.code, tv.issues, tv.message]).toEqual(['bad_task', ['a', 'b'], 't.json: a; b']);
  });
});

describe('cancellation', () => {
  it('has one shape: an AbortError with code cancelled, the signal reason as cause', async () => {
    const ac = new AbortController();
    expect(() => throwIfAborted(ac.signal)).not.toThrow();
    ac.abort('why');
    let caught: unknown;
    try {
      throwIfAborted(ac.signal, 'stopped');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(EacAbortError);
    // the engine's own cancellations (the health runner, the statistics pass) throw that same class, not one of their own
    const stopped = new AbortController();
    stopped.abort('user');
    const task = { id: 't', examples: [] } as unknown as Parameters<typeof runTask>[0];
    const healthCancel = await runTask(task, async () => [], { signal: stopped.signal }).then(() => null, (e: unknown) => e);
    expect(healthCancel).toBeInstanceOf(EacAbortError);
    expect(healthCancel).toMatchObject({ name: 'AbortError', code: 'cancelled', cause: 'user' });
    const model = { cfg: { layers: 2, ffn: 4, maxPositions: 8 } } as unknown as Parameters<typeof keyStats>[0];
    const statsCancel = await keyStats(model, [0], { samples: 1, signal: stopped.signal } as Parameters<typeof keyStats>[2]).then(() => null, (e: unknown) => e);
    expect(statsCancel).toBeInstanceOf(EacAbortError);
    expect(statsCancel).toMatchObject({ name: 'AbortError', code: 'cancelled' });
    expect(caught).toMatchObject({ name: 'AbortError', code: 'cancelled', message: 'stopped', cause: 'why' });
    expect(isCancelled(cancelledError())).toBe(true);
    // DOM aborts from code that does not know EacError are cancellations too, and travel as 'cancelled'
    expect(isCancelled(new DOMException('x', 'AbortError'))).toBe(true);
    expect(toWire(new DOMException('x', 'AbortError')).code).toBe('cancelled');
    expect(isCancelled(new LedgerError('locked', 'x'))).toBe(false);
  });
});

describe('CLI exit codes come from ERROR_CODES', () => {
  const run = async (thrown: unknown) => {
    const err: string[] = [];
    const io = { out: () => {}, err: (s: string) => err.push(s), env: {} } as unknown as CliIO;
    const cmd = defineCommand({
      name: 'boom',
      summary: 'throws',
      help: '',
      options: {},
      run: async () => {
        throw thrown;
      },
    } as never);
    return { code: await main(['boom'], io, [cmd]), err: err.join('') };
  };

  it('a bad-input code exits 2, an io code exits 1, an error without a table code exits 1', async () => {
    expect(ERROR_CODES.not_found.group).toBe('input');
    expect(ERROR_CODES.io_error.group).toBe('failure');
    expect(await run(new LedgerError('not_found', 'no such edit'))).toEqual({ code: 2, err: 'eac boom: no such edit\n' });
    expect(await run(new CheckpointError('io_error', 'disk gone'))).toEqual({ code: 1, err: 'eac boom: error: disk gone\n' });
    // the same class exits differently by code alone
    expect((await run(new CheckpointError('bad_config', 'x'))).code).toBe(2);
    expect((await run(Object.assign(new Error('raw'), { code: 'ENOENT' }))).code).toBe(1);
    expect((await run(new UsageError('usage', 'bad flag'))).code).toBe(2);
  });

  it('exitCodeFor follows each code\'s group in the table', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(exitCodeFor(new EacError(code as ErrorCode, 'x')), code).toBe(info.group === 'input' ? 2 : 1);
    }
  });

  it('the README exit-code table is the one generated from ERROR_CODES', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(exitCodeTable());
  });
});

describe('the wire keeps code, message and detail', () => {
  it('toErrorInfo -> JSON -> fromWire', () => {
    const sent = new LedgerError('head_moved', 'the ledger moved', { detail: { head: 7, expected: 6 } });
    const back = fromWire(JSON.parse(JSON.stringify(toErrorInfo(sent))));
    expect(back).toBeInstanceOf(EngineError);
    expect([back.code, back.message, back.detail]).toEqual(['head_moved', 'the ledger moved', { head: 7, expected: 6 }]);
    expect(exitCodeFor(back)).toBe(exitCodeFor(sent));
    const np = fromWire(JSON.parse(JSON.stringify(toErrorInfo(NotPositiveDefiniteError.at(2, -1, 4, 0.5)))));
    expect([np.code, np.detail]).toEqual(['not-positive-definite', { index: 2, pivot: -1, n: 4, smallestPositive: 0.5 }]);
  });

  describe('through a real engine process', () => {
    let engine: EngineClient | undefined;
    afterAll(() => engine?.close());
    it('a handler\'s EngineError arrives with its code, message and detail', async () => {
      engine = new EngineClient({ handlerModules: [new URL('./engine/handlers/test-handlers.ts', import.meta.url)] });
      const detail = { file: 'a.json', issues: ['x', 'y'], n: 2 };
      const e = await engine.call('testFail', { code: 'bad_task', message: 'task file invalid', detail }).then(
        () => null,
        (x: unknown) => x as EngineError,
      );
      expect(e).toBeInstanceOf(EngineError);
      expect([e!.code, e!.message, e!.detail]).toEqual(['bad_task', 'task file invalid', detail]);
    }, 60_000);
  });
});
