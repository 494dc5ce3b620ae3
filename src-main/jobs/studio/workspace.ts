// A workspace: one resident model + its ledger + editors. Everything the studio handlers, the CLI
// (`eac ledger`, `eac health`, `eac edit --db`) and the crash-safety child share. No worker or
// HandlerContext types here: callers pass plain callbacks and AbortSignals.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { checkpointHashes } from '../../engine/checkpoint';
import {
  bundledProfiles,
  defaultCacheDir,
  Editor,
  LiveEdits,
  loadProfile,
  parseProfile,
  preservedKeysOf,
  statsProvider,
  type EditProfile,
  type LayerDelta,
  type StatsSettings,
} from '../../engine/edit';
import { dataRoot, packageRoot } from '../../engine/paths';
import { LoadedModel } from '../../engine/runtime/model';
import type { Device } from '../../engine/runtime/session';
import { Ledger, openLedger, type OpenLedgerOptions, type ReplayRequest } from '../../store';
import { EngineError } from '../protocol';
import { cancelledError, type ErrorCode } from '../../engine/errors';
import type { ProgressCount } from '../../engine/progress';
import { STUDIO_ERROR_CODES } from '../../api/errors';

export const CODES = STUDIO_ERROR_CODES;

export function studioError(message: string, code: ErrorCode = CODES.badParams): EngineError {
  return new EngineError(code, message);
}

// dataRoot lives with the other path helpers (the UI host needs it without loading the studio)
export { dataRoot };

/** The default workspace folder of a model folder: <dataRoot>/<sha256(absolute real path)[:16]>. */
export function defaultWorkspaceDir(modelDir: string, env: NodeJS.ProcessEnv = process.env): string {
  let abs = path.resolve(modelDir);
  try {
    abs = fs.realpathSync(abs);
  } catch {
    /* keep the resolved path; opening will report a missing folder */
  }
  return path.join(dataRoot(env), crypto.createHash('sha256').update(abs).digest('hex').slice(0, 16));
}

/** The bundled profile for a model folder (named like the folder; the demo model uses gpt2-world-a), or null. */
export function defaultProfileFor(modelDir: string): string | null {
  const base = path.basename(path.resolve(modelDir));
  const names = bundledProfiles();
  if (names.includes(base)) return base;
  if (path.resolve(modelDir) === path.join(packageRoot(), 'resources', 'demo-model')) return 'gpt2-world-a';
  return null;
}

/** A profile from a bundled name, a JSON path or an object. */
export function resolveProfile(p: string | EditProfile | unknown): EditProfile {
  if (typeof p === 'string') return loadProfile(p);
  return parseProfile(p, 'profile');
}

export interface OpenWorkspaceOptions {
  modelDir: string;
  dbFile?: string;
  workspaceDir?: string;
  device?: Device;
  /** key statistics cache (default $EAC_CACHE_DIR or ~/.cache/eac-studio) */
  cacheDir?: string;
  /** (phase, fraction, message, count: bytes hashed for 'hash') */
  onProgress?: (phase: string, fraction: number, message?: string, count?: ProgressCount) => void;
  signal?: AbortSignal;
  /** an already opened model of the same folder (the worker's resident one) */
  model?: LoadedModel;
  /** replay edits an interrupted `remove --replay` left pending (default true) */
  replayPending?: boolean;
  env?: NodeJS.ProcessEnv;
  /** passed to openLedger (tests: the crash hook, LedgerOptions.beforeCommit) */
  ledger?: Pick<OpenLedgerOptions, 'beforeCommit'>;
}

export interface EditorStatsOptions {
  samples?: number;
  corpusPath?: string;
  /** statistics imported with `eac stats import --label` */
  importedLabel?: string;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export function toDelta(f: { layer: number; tensor: string; rank: number; Ut: Float32Array; Vt: Float32Array }): LayerDelta {
  return { layer: f.layer, tensor: f.tensor, rank: f.rank, Ut: f.Ut, Vt: f.Vt };
}

export class Workspace {
  /** queue items found 'running' at open and reset to pending */
  recoveredItems: number[] = [];
  /** edits recorded by replaying pending replays at open */
  replayed: number[] = [];
  private editors = new Map<string, { editor: Editor; settings: StatsSettings }>();
  private baseLive: LiveEdits;

  private constructor(
    readonly model: LoadedModel,
    readonly ledger: Ledger,
    readonly modelId: number,
    readonly dbFile: string,
    readonly workspaceDir: string,
    readonly fileHashes: Record<string, string>,
    readonly cacheDir: string,
  ) {
    this.baseLive = new LiveEdits(model);
  }

  /**
   * Opens (creating if needed) the ledger, imports the model (hashing every weight file with
   * progress), refuses when a recorded hash differs (naming the file), resets interrupted queue items,
   * and rebuilds the live model from the base checkpoint plus the applied factors.
   */
  static async open(o: OpenWorkspaceOptions): Promise<Workspace> {
    const env = o.env ?? process.env;
    const modelDir = path.resolve(o.modelDir);
    const workspaceDir = path.resolve(o.workspaceDir ?? defaultWorkspaceDir(modelDir, env));
    const dbFile = path.resolve(o.dbFile ?? path.join(workspaceDir, 'ledger.sqlite'));
    const progress = o.onProgress ?? (() => {});
    progress('load', 0, `reading ${modelDir}`);
    const model = o.model ?? LoadedModel.open(modelDir, { device: o.device ?? 'cpu' });
    const ledger = openLedger(dbFile, o.ledger);
    try {
      // a full sha256 of every file at import (the first open); later opens trust the import hash
      // while size, mtime and a sampled hash (a few fixed 1 MiB windows) match, re-hashing only a
      // file that changed (`eac verify` re-hashes everything on request)
      const cacheDir = path.resolve(o.cacheDir ?? defaultCacheDir());
      const imported = ledger.findModelByPath(model.ck.dir) !== undefined;
      progress('hash', 0, imported ? 'checking weight files' : 'hashing weight files');
      const { hashes } = await checkpointHashes(model.ck, {
        cacheDir,
        full: !imported,
        onProgress: (d, t) => progress('hash', t ? d / t : 1, undefined, { done: d, total: t, unit: 'bytes' }),
      });
      if (o.signal?.aborted) throw cancelledError('cancelled', o.signal.reason);
      const known = ledger.findModelByPath(model.ck.dir);
      if (known) {
        for (const [file, h] of Object.entries(known.fileHashes)) {
          const now = hashes[file];
          if (now !== h)
            throw studioError(
              now === undefined
                ? `${path.join(model.ck.dir, file)} is missing: the ledger ${dbFile} recorded it (sha256 ${h}) when the model was imported`
                : `${path.join(model.ck.dir, file)} no longer matches the ledger: sha256 is ${now}, recorded ${h} at import. ` +
                    `The edits in ${dbFile} were made against the recorded weights; restore the original file or use another ledger (dbFile).`,
              CODES.hashMismatch,
            );
        }
      }
      const rec = known ?? ledger.importModel({ path: model.ck.dir, arch: model.cfg.arch, config: model.cfg.raw, fileHashes: hashes });
      const ws = new Workspace(model, ledger, rec.id, dbFile, workspaceDir, rec.fileHashes, cacheDir);
      ws.recoverInterrupted();
      ws.rebuild();
      if (o.replayPending !== false) {
        const pending = ledger.pendingReplays(rec.id);
        if (pending.length > 0) ws.replayed = await ws.replay(pending, { onProgress: progress, signal: o.signal });
      }
      progress('load', 1);
      return ws;
    } catch (e) {
      ledger.close();
      if (!o.model) await model.release().catch(() => {});
      throw e;
    }
  }

  /** Items left 'running' by a killed run go back to pending, with an event saying so. */
  private recoverInterrupted(): void {
    const queues = this.ledger.queues.queuesForModel(this.modelId);
    const reset: { queueId: number; itemId: number }[] = [];
    for (const q of queues) for (const it of this.ledger.queues.queueItems(q.id)) if (it.status === 'running') reset.push({ queueId: q.id, itemId: it.id });
    if (reset.length === 0) return;
    const tx = this.ledger.db.transaction(() => {
      for (const r of reset) this.ledger.queues.markItem(r.itemId, 'pending', null);
      // 'resume' (the queue resumes after an interruption) unless a guardrail pause is in force, which must stay so
      const kind = this.ledger.guardrailPaused(this.modelId) ? 'override' : 'resume';
      this.ledger.recordEvent(this.modelId, kind, {
        reason: 'interrupted_run_recovered',
        message: `reset ${reset.length} queue item(s) left running by an interrupted run to pending`,
        items: reset.map((r) => r.itemId),
        queues: [...new Set(reset.map((r) => r.queueId))],
      });
    });
    tx.immediate();
    this.recoveredItems = reset.map((r) => r.itemId);
  }

  /** The live deltas from the ledger, in seq order (bit-exact factors). */
  liveDeltas(): LayerDelta[] {
    return this.ledger.liveEdits(this.modelId).flatMap((e) => e.factors.map(toDelta));
  }

  /**
   * Sets the model's factors (and every cached editor's live set) from the ledger, and AlphaEdit's
   * preserved second moment from the live edits' stored keys (rebuilt, not subtracted: exact after
   * a revert, a removal or a replay).
   */
  rebuild(): void {
    const deltas = this.liveDeltas();
    this.baseLive.set(deltas);
    for (const e of this.editors.values()) e.editor.live.set(deltas);
    this.syncPreservedKeys();
  }

  private syncPreservedKeys(): void {
    preservedKeysOf(this.model).set(this.ledger.livePreservedKeys(this.modelId).map(({ layer, n, keys }) => ({ layer, n, keys })));
  }

  /** An editor for a profile, its live set synced with the ledger. */
  editorFor(profile: EditProfile, stats: EditorStatsOptions = {}): Editor {
    const key = JSON.stringify([profile, stats.samples ?? null, stats.corpusPath ?? null, stats.importedLabel ?? null]);
    let entry = this.editors.get(key);
    if (!entry) {
      // statsProvider reads its settings when it runs, so progress/signal can be swapped per call
      const settings: StatsSettings = { cacheDir: this.cacheDir, samples: stats.samples, corpusPath: stats.corpusPath, importedLabel: stats.importedLabel };
      entry = { editor: new Editor(this.model, profile, statsProvider(this.model, profile, settings)), settings };
      this.editors.set(key, entry);
    }
    entry.settings.onProgress = stats.onProgress;
    entry.settings.signal = stats.signal;
    entry.editor.live.set(this.liveDeltas());
    this.syncPreservedKeys();
    return entry.editor;
  }

  /** Re-runs replay requests on the current live set and records each (replayOf). */
  async replay(
    list: ReplayRequest[],
    o: { onProgress?: (phase: string, fraction: number, message?: string) => void; signal?: AbortSignal } = {},
  ): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      o.onProgress?.('replay', i / list.length, `replaying edit ${r.editId} (${i + 1}/${list.length})`);
      const profile = resolveProfile(r.profile);
      const ed = await this.editorFor(profile, { signal: o.signal });
      const res = await ed.edit(r.method, r.requests, { signal: o.signal });
      try {
        out.push(this.ledger.recordEdit(this.modelId, res, { replayOf: r.editId, profile }).editId);
      } catch (e) {
        ed.unapply(res.deltas);
        throw e;
      }
    }
    o.onProgress?.('replay', 1);
    this.rebuild();
    return out;
  }

  headSeq(): number {
    return this.ledger.headSeq(this.modelId);
  }

  liveCount(): number {
    return this.ledger.liveEdits(this.modelId).length;
  }

  /** Runs fn with the factors lifted (the untouched checkpoint), restoring them afterwards. */
  async withBase<T>(fn: () => Promise<T>): Promise<T> {
    const saved = new Map(this.model.factors);
    this.model.factors.clear();
    try {
      return await fn();
    } finally {
      this.model.factors.clear();
      for (const [l, f] of saved) this.model.factors.set(l, f);
    }
  }

  async close(opts: { releaseModel?: boolean } = {}): Promise<void> {
    this.ledger.close();
    if (opts.releaseModel !== false) await this.model.release().catch(() => {});
  }
}

export function fileExists(p: string): boolean {
  try {
    fs.accessSync(p);
    return true;
  } catch {
    return false;
  }
}
