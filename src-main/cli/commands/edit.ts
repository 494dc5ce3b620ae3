import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadHealthTasks } from '../../engine/eval/health';
import { bundledProfiles, EDIT_METHODS, loadProfile, type EditMethod, type EditResult } from '../../engine/edit';
import type { EditRequest, FactProgress } from '../../engine/facts/types';
import { parseFacts, readFactsFile } from '../../engine/facts';
import { packageRoot } from '../../engine/paths';
import { LoadedModel, type SessionBuildEvent } from '../../engine/runtime/model';
import { QueueRunner } from '../../jobs/studio/runner';
import { Workspace } from '../../jobs/studio/workspace';
import type { QueueRecord } from '../../store';
import { choiceOption, defineCommand, intOption, optionalString, printJson, requireString, UsageError, asInputError, type CliIO } from '../command';
import { DEVICES } from '../engine';
import { ProgressPrinter } from '../progress';

/** The bundled profile named like the model folder; the demo model uses the gpt2-world-a profile. */
export function defaultProfileName(modelDir: string): string {
  const base = path.basename(path.resolve(modelDir));
  if (bundledProfiles().includes(base)) return base;
  if (path.resolve(modelDir) === path.join(packageRoot(), 'resources', 'demo-model')) return 'gpt2-world-a';
  throw new UsageError('usage', `no profile for "${base}": pass --profile NAME|FILE (bundled: ${bundledProfiles().join(', ')})`);
}

/** Fact files from this size on show reading / checking progress on stderr (smaller ones take well under a second). */
const FACTS_PROGRESS_BYTES = 1 << 20;

/** "all examples" for the health checks (a task scores min(n, its examples)). */
const ALL_EXAMPLES = 1_000_000_000;

const avg = (xs: (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

const sameRequest = (a: EditRequest, b: EditRequest | null) =>
  !!b && a.caseId === b.caseId && a.prompt === b.prompt && a.subject === b.subject && a.targetNew === b.targetNew;

/** The newest queue of the ledger's model with the same method and exactly the same cases, in order. */
export function findSameQueue(ws: Workspace, method: EditMethod, requests: EditRequest[]): QueueRecord | null {
  for (const q of ws.ledger.queues.queuesForModel(ws.modelId).reverse()) {
    if (q.method !== method) continue;
    const items = ws.ledger.queues.queueItems(q.id);
    if (items.length === requests.length && items.every((it, i) => sameRequest(requests[i], it.request))) return q;
  }
  return null;
}

function editLine(r: EditResult, index: number) {
  const d = r.details as Record<string, unknown>;
  const { trace: _t, ...details } = d;
  const perReq = Array.isArray(d.requests) ? (d.requests as Record<string, unknown>[]).map(({ trace: _x, ...rest }) => rest) : undefined;
  return {
    type: 'edit',
    index,
    method: r.method,
    case_ids: r.requests.map((q) => q.caseId),
    layers: r.layers,
    metrics: r.metrics,
    pre_metrics: r.preMetrics,
    norms: r.norms,
    timings_ms: r.timings,
    details: perReq ? { ...details, requests: perReq } : details,
  };
}

export default defineCommand({
  name: 'edit',
  summary: 'apply ROME / MEMIT / AlphaEdit / EAC / FT edits from a facts file, sequentially',
  usage:
    'edit --model DIR --facts FILE --method rome|memit|eac-rome|eac-memit|alphaedit|eac-alphaedit|ft|ft-en [--profile NAME|FILE] [--stats CORPUS] [--batch-size N] [--limit N] [--eval-tasks FILE --eval-every K] [--json]',
  help: [
    'Options:',
    '  --model DIR         Hugging Face folder (gpt2 or llama)',
    '  --facts FILE        CounterFact, zsRE, EasyEdit JSON/JSONL or CSV (prompt,subject,target_new[,ground_truth,rephrase,locality])',
    '  --method M          rome, memit, eac-rome, eac-memit, alphaedit, eac-alphaedit, ft, ft-en',
    '  --profile P         bundled profile name or JSON file (default: the profile named like the model folder)',
    '  --stats CORPUS      text/JSONL corpus for key statistics (default: the profile\'s, else resources/corpus/default.txt)',
    '  --stats-samples N   number of corpus samples (default: the profile\'s)',
    '  --stats-label N     use statistics imported with `eac stats import --label N` where they exist',
    '  --cache-dir DIR     statistics cache (default ~/.cache/eac-studio or $EAC_CACHE_DIR)',
    '  --batch-size N      requests per MEMIT batch (default 1)',
    '  --limit N           edit only the first N valid requests',
    '  --eval-tasks FILE   health tasks (task JSON, or {task,prompt,answer} JSONL) run before editing and every K edits',
    '  --eval-every K      health interval in edits (default: only before and after)',
    '  --eval-n N          examples per task (default all)',
    '  --device D          cpu (default), webgpu or cuda',
    '  --db FILE           record every edit in this ledger (created if missing); the live model starts from',
    '                      the ledger\'s applied edits, and a weight file that changed since import is refused.',
    '                      When the ledger already holds a queue of the same cases and method, it is resumed:',
    '                      edits already made are not applied again',
    '  --no-resume         with --db: always start a new queue',
    '  --json              one JSON line per edit (metrics, norms, timings), then a summary line; progress',
    '                      as JSON lines on stderr ({"type":"progress","phase","done","total","unit","eta_ms"})',
    '',
    'Invalid requests (subject not in prompt, empty target, over-long input) are reported and skipped.',
    'An item whose edit fails (e.g. the statistics corpus cannot be read) is reported as "failed".',
    'Exit code: 0 when every item was edited or skipped as invalid with at least one edit made;',
    '1 when any item failed (the summary counts edits, skipped and failed; stderr names the first',
    'failures); 2 when no item could be edited because every one was invalid.',
    'Progress goes to stderr: a bar on a terminal, else a line per phase and per tenth of it (hashing,',
    'session builds, key statistics, v* steps, metrics), each with the ETA of that phase.',
  ].join('\n'),
  options: {
    model: { type: 'string', multiple: true },
    facts: { type: 'string', multiple: true },
    method: { type: 'string', multiple: true },
    profile: { type: 'string', multiple: true },
    stats: { type: 'string', multiple: true },
    'stats-samples': { type: 'string', multiple: true },
    'cache-dir': { type: 'string', multiple: true },
    'stats-label': { type: 'string', multiple: true },
    'batch-size': { type: 'string', multiple: true },
    limit: { type: 'string', multiple: true },
    'eval-tasks': { type: 'string', multiple: true },
    'eval-every': { type: 'string', multiple: true },
    'eval-n': { type: 'string', multiple: true },
    device: { type: 'string', multiple: true },
    db: { type: 'string', multiple: true },
    'no-resume': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(values, _pos, io: CliIO) {
    const modelDir = path.resolve(io.cwd, requireString(values, 'model'));
    const factsFile = path.resolve(io.cwd, requireString(values, 'facts'));
    const method = choiceOption(values, 'method', EDIT_METHODS, 'rome' as EditMethod);
    if (!values.method) throw new UsageError('usage', `--method is required (${EDIT_METHODS.join(', ')})`);
    const device = choiceOption(values, 'device', DEVICES, 'cpu');
    const batchSize = intOption(values, 'batch-size', { min: 1, default: 1 });
    const limit = intOption(values, 'limit', { min: 1, default: Number.MAX_SAFE_INTEGER });
    const evalEvery = intOption(values, 'eval-every', { min: 1, default: 0 });
    const evalN = values['eval-n'] ? intOption(values, 'eval-n', { min: 1 }) : undefined;
    const json = !!values.json;
    if (!fs.existsSync(factsFile)) throw new UsageError('usage', `facts file not found: ${factsFile}`);
    // read and parse the facts before the model loads: a FIFO or device fails at once (never blocks),
    // and a file without a single valid request (header only, empty array, every row invalid) is bad input
    // a large file takes seconds to read and check (a 248 MB CSV: tens of seconds): show how far it is, on stderr
    let big = false;
    const factsProgress = json
      ? undefined
      : (p: FactProgress) => {
          if (p.phase === 'read') big = p.total >= FACTS_PROGRESS_BYTES;
          if (!big) return;
          const end = p.done === p.total ? '\n' : '';
          if (p.unit === 'bytes') io.err(`\rreading facts ${Math.floor((100 * p.done) / Math.max(1, p.total))}% (${(p.done / 1e6).toFixed(1)} of ${(p.total / 1e6).toFixed(1)} MB)${end}`);
          else io.err(`\rchecking facts ${p.done}/${p.total} rows${end}`);
        };
    const parsed = parseFacts(path.basename(factsFile), readFactsFile(factsFile, factsProgress), { onProgress: factsProgress });
    if (parsed.requests.length === 0) {
      const why = parsed.errors.length ? parsed.errors.slice(0, 3).map((e) => e.message).join('; ') + (parsed.errors.length > 3 ? `; … ${parsed.errors.length - 3} more` : '') : 'it holds no records';
      throw new UsageError('usage', `${factsFile}: no valid edit requests to run (${why})`);
    }
    const profileArg = optionalString(values, 'profile');
    let profile;
    try {
      profile = loadProfile(profileArg ? (fs.existsSync(path.resolve(io.cwd, profileArg)) ? path.resolve(io.cwd, profileArg) : profileArg) : defaultProfileName(modelDir));
    } catch (e) {
      throw new UsageError('usage', (e as Error).message);
    }
    const statsCorpus = optionalString(values, 'stats');
    const evalFile = optionalString(values, 'eval-tasks');
    const cacheDirArg = optionalString(values, 'cache-dir');
    const cacheDir = cacheDirArg ? path.resolve(io.cwd, cacheDirArg) : undefined;
    const stats = {
      cacheDir,
      corpusPath: statsCorpus ? path.resolve(io.cwd, statsCorpus) : undefined,
      samples: values['stats-samples'] ? intOption(values, 'stats-samples', { min: 1 }) : undefined,
      importedLabel: optionalString(values, 'stats-label'),
    };
    // every long phase on stderr, from the numbers of its progress reports: the first-time hash, each
    // session being built, key statistics, v* steps, the metrics passes (cli/progress.ts)
    const progress = ProgressPrinter.forIO(io, json);
    const onSession = (e: SessionBuildEvent) =>
      e.count
        ? progress.update({ phase: 'upload', count: e.count })
        : progress.update({ phase: 'session', message: `${e.state === 'start' ? 'building' : 'built'} the ${e.kind} session` });
    const dbArg = optionalString(values, 'db');
    const resume = values['no-resume'] ? false : true;
    // One pipeline: `eac edit` drives the app's queue runner on a ledger-backed queue (--db) or on a
    // throw-away ledger that is deleted afterwards.
    const tmp = dbArg ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'eac-edit-'));
    let model: LoadedModel;
    let ws: Workspace;
    try {
      model = LoadedModel.open(modelDir, { device });
      model.sessionListeners.add(onSession);
      ws = await Workspace.open({
        modelDir,
        dbFile: dbArg ? path.resolve(io.cwd, dbArg) : path.join(tmp!, 'ledger.sqlite'),
        model,
        cacheDir,
        onProgress: (phase, _f, message, count) => {
          if (phase === 'hash') progress.update({ phase, count, ...(count ? {} : { message }) });
        },
      });
    } catch (e) {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      // a broken model folder is bad input (2); a ledger held by another writer or an I/O failure is not (1)
      throw asInputError(e);
    }
    const emit = (obj: Record<string, unknown>, text: string) => {
      progress.end();
      if (json) printJson(io, obj);
      else io.out(text + '\n');
    };
    try {
      for (const e of parsed.errors) emit({ type: 'skip', row: e.row, field: e.field, reason: e.message }, `skip row ${e.row}: ${e.message}`);
      const requests = parsed.requests.slice(0, limit);
      const tasks = evalFile ? loadHealthTasks(path.resolve(io.cwd, evalFile)) : undefined;
      // --db: a queue of this model that already holds the same cases with the same method is resumed,
      // so edits already made are not applied twice (--no-resume makes a new queue)
      const same = resume && dbArg ? findSameQueue(ws, method, requests) : null;
      let queueId: number;
      if (same) {
        queueId = same.id;
        const done = ws.ledger.queues.queueItems(queueId).filter((i) => i.status === 'done').length;
        emit({ type: 'resume', queue_id: queueId, done, total: requests.length }, `resuming queue ${queueId}: ${done} of ${requests.length} already edited`);
        // items a killed run left running or failed go back to pending
        for (const it of ws.ledger.queues.queueItems(queueId)) if (it.status === 'failed') ws.ledger.queues.markItem(it.id, 'pending', null);
      } else queueId = ws.ledger.queues.createQueue(ws.modelId, `eac edit ${path.basename(factsFile)}`, method, profile, requests).id;
      const results: EditResult[] = [];
      const health: { edits: number; scores: Record<string, number> }[] = [];
      let skipped = 0;
      // items whose edit threw (the runner marks them 'failed' and goes on with the next one)
      const failures: { caseId: string; reason: string }[] = [];
      const runner = new QueueRunner(ws);
      const res = await runner.run(
        queueId,
        { batchSize, healthEvery: evalEvery, healthN: evalN ?? ALL_EXAMPLES },
        {
          statsSamples: stats.samples,
          statsCorpus: stats.corpusPath,
          statsLabel: stats.importedLabel,
          healthTasks: tasks,
          healthAtEnd: !!tasks,
          progress: (p) => {
            // the runner's own bookkeeping phases are not progress a user waits on
            if (!p.phase || p.phase === 'start' || p.phase === 'record') return;
            // the editor announces its statistics phase without a count before the statistics
            // report their samples: only the counted reports draw the statistics bar
            if (p.phase === 'statistics' && !p.count) return;
            progress.update({ phase: p.phase, ...(p.count ? { count: p.count } : p.message ? { message: p.message } : {}) });
          },
          emit: (ev) => {
            if (ev.type === 'queue.item' && ev.item.status === 'invalid' && ev.item.request) {
              skipped++;
              emit({ type: 'skip', case_id: ev.item.request.caseId, reason: ev.item.error }, `skip ${ev.item.request.caseId}: ${ev.item.error}`);
            }
            if (ev.type === 'queue.item' && ev.item.status === 'failed') {
              const caseId = ev.item.request?.caseId ?? `item ${ev.item.id}`;
              const reason = ev.item.error ?? 'failed';
              failures.push({ caseId, reason });
              emit({ type: 'failed', case_id: caseId, reason }, `failed ${caseId}: ${reason}`);
            }
          },
          onEdit: (r, rec) => {
            const line = { ...editLine(r, results.length), ...(dbArg ? { ledger: { edit_id: rec.editId, seq: rec.seq } } : {}) };
            results.push(r);
            const m = r.metrics;
            emit(
              line,
              `edit ${line.index} [${line.case_ids.join(',')}] ${method}: reliability ${m.map((x) => x.reliability.toFixed(2)).join('/')} ` +
                `generalization ${m.map((x) => x.generalization?.toFixed(2) ?? '-').join('/')} locality ${m.map((x) => x.locality?.toFixed(2) ?? '-').join('/')} ` +
                `L1 growth ${r.norms.map((n) => `L${n.layer} ${n.l1GrowthPct.toFixed(3)}%`).join(', ')}`,
            );
          },
          onHealth: (scores, done) => {
            const line = { edits: done, scores: Object.fromEntries(scores.map((x) => [x.taskId, x.score])) };
            health.push(line);
            emit(
              { type: 'health', ...line, n: Object.fromEntries(scores.map((x) => [x.taskId, x.n])) },
              `health after ${done} edits: ${scores.map((x) => `${x.taskId} ${x.score.toFixed(3)}`).join(', ')}`,
            );
          },
        },
      );
      const metrics = results.flatMap((r) => r.metrics);
      const immediate = {
        reliability: avg(metrics.map((m) => m.reliability)) ?? 0,
        generalization: avg(metrics.map((m) => m.generalization)),
        locality: avg(metrics.map((m) => m.locality)),
      };
      const edits = results.reduce((a, r) => a + r.requests.length, 0);
      emit(
        {
          type: 'summary',
          method,
          profile: profile.name,
          edits,
          skipped: skipped + parsed.errors.length,
          failed: failures.length,
          not_taken: res.notTaken.length,
          immediate,
          final_norms: results[results.length - 1]?.norms ?? [],
          health,
          ...(dbArg ? { queue_id: queueId } : {}),
        },
        `done: ${edits} edits, ${skipped + parsed.errors.length} skipped${failures.length ? `, ${failures.length} failed` : ''}` +
          `${res.notTaken.length ? `, ${res.notTaken.length} did not take` : ''}${edits ? `; mean reliability ${immediate.reliability.toFixed(3)}` : ''}`,
      );
      // "done: 0 edits" with exit 0 hid runs in which every item failed (issue 19): a failed item makes the run fail
      if (failures.length) {
        const reasons = [...new Set(failures.map((f) => f.reason))];
        io.err(
          `eac edit: error: ${failures.length} of ${failures.length + edits + skipped} item(s) failed${edits ? ` (${edits} edited)` : ', nothing was edited'}: ` +
            `${reasons.slice(0, 3).join('; ')}${reasons.length > 3 ? `; … ${reasons.length - 3} more` : ''}\n`,
        );
        return 1;
      }
      if (edits === 0 && skipped > 0 && !same) {
        io.err(`eac edit: no request could be edited: all ${skipped} were skipped as invalid (see the skip lines)\n`);
        return 2;
      }
    } finally {
      progress.end();
      model.sessionListeners.delete(onSession);
      await ws.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
});
