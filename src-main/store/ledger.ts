// The edit ledger: append-only history of models, edits (with their exact factors), norms, health runs and events.
// The live set of edits is derived from the events (event_edits rows, mirrored into live_edits by triggers in the
// same transaction). Every public write is one IMMEDIATE transaction. The mutable queues and their items are
// `ledger.queues` (queue-store.ts), on the same connection and transactions.
//
// Integrity: every factor row carries a sha256 of its bytes bound to the edit, layer, tensor and shape they belong to
// (004_factor_binding); every read of factor values (rebuild, export, editFactors, ledger list) checks it and names
// the edit when it differs. Concurrency: one writer process per ledger
// (lock.ts) and, within it, an optimistic head check: recordEdit / revertTo / removeEdit take the head the caller
// computed on (expectedHead) and refuse the write when another writer moved it.
//
// LedgerOptions.beforeCommit runs inside every outermost write transaction, after its last statement and before
// COMMIT: the crash-safety tests kill the process there (tests/store/crash-hook.ts) to prove that leaves no trace.
import type Database from 'better-sqlite3';
import type { EditResult, NormSnapshot } from '../engine/edit/types';
import type { EditRequest } from '../engine/facts/types';
import type { LayerFactors } from '../engine/runtime/model';
import { createHash } from 'node:crypto';
import { boundFactorSha256, concatFactors, decodeF32, encodeF32, factorDims, factorSha256 } from './factors';
import { ledgerIoError } from './io-errors';
import { LedgerError } from './ledger-error';
import type { WriterLock } from './lock';
import type { MigrationReport } from './migrate';
import { QueueStore } from './queue-store';
import { bool, json, parse, real, rowMapper, type Row } from './rows';
import {
  EditDetail,
  EditSummary,
  EventKind,
  FactorShape,
  FreeEventKind,
  HealthInput,
  HealthRun,
  History,
  LedgerEvent,
  LiveEdit,
  ModelInfo,
  ModelRecord,
  NormPoint,
  NormSeries,
  RecordEditOptions,
  RemoveResult,
  ReplayRequest,
  RevertResult,
  STATE_EVENT_KINDS,
  StoredFactors,
} from './types';

export { concatFactors, decodeF32, encodeF32 } from './factors';
export { LedgerError } from './ledger-error';
export * from './types';

export interface LedgerOptions {
  /** clock for created_at columns (tests); default () => new Date() */
  now?: () => Date;
  /** what openLedger's migration run did */
  migration?: MigrationReport;
  /** the database file (for messages) */
  file?: string;
  /** opened read-only (openLedger(file, { readOnly: true })) */
  readOnly?: boolean;
  /** the writer lock, released by close() */
  lock?: WriterLock;
  /** run once after the connection is closed (a read-only snapshot's private copy is removed) */
  onClose?: () => void;
  /**
   * Run inside each outermost write transaction after its last statement, before COMMIT, with the method's name
   * (`op`) and what it is about to return. For tests: tests/store/crash-hook.ts kills the process there.
   */
  beforeCommit?: (op: string, result: unknown, db: Database.Database) => void;
}


const NORM_COLUMNS: [keyof NormSnapshot, string][] = [
  ['l1', 'l1'],
  ['l1Base', 'l1_base'],
  ['l1GrowthPct', 'l1_growth_pct'],
  ['fro', 'fro'],
  ['maxAbs', 'max_abs'],
  ['relChange', 'rel_change'],
  ['deltaFro', 'delta_fro'],
  ['deltaL1', 'delta_l1'],
  ['factorNormU', 'factor_norm_u'],
  ['factorNormV', 'factor_norm_v'],
];

export class Ledger {
  private readonly clock: () => Date;
  readonly migration?: MigrationReport;
  /** the database file ('' for an in-memory ledger) */
  readonly file: string;
  readonly readOnly: boolean;
  private lock?: WriterLock;
  private onClose?: () => void;
  private readonly beforeCommit?: LedgerOptions['beforeCommit'];
  /**
   * Per model, the head this connection last saw the live set at: when it read it (liveEdits / liveFactors, i.e. a
   * rebuild) or moved it itself. recordEdit / revertTo / removeEdit without an explicit expectedHead check against
   * it, so an edit computed on a live set that another connection changed since is refused (head_moved).
   */
  private seenHead = new Map<number, number>();
  /** the queues and their items: the mutable part, on this connection and inside this ledger's transactions */
  readonly queues: QueueStore;

  constructor(
    /** the open connection (exposed for tests and maintenance; write only through the methods) */
    readonly db: Database.Database,
    opts: LedgerOptions = {},
  ) {
    this.clock = opts.now ?? (() => new Date());
    this.migration = opts.migration;
    this.file = opts.file ?? (db.memory ? '' : db.name);
    this.readOnly = opts.readOnly ?? db.readonly;
    this.lock = opts.lock;
    this.onClose = opts.onClose;
    this.beforeCommit = opts.beforeCommit;
    this.queues = new QueueStore(db, { tx: (op, fn) => this.tx(op, fn), now: () => this.now(), requireModel: (id) => this.requireModel(id) });
  }

  /** Close the connection and release the writer lock. */
  close(): void {
    try {
      if (this.db.open) this.db.close();
    } finally {
      this.lock?.release();
      this.lock = undefined;
      const done = this.onClose;
      this.onClose = undefined;
      done?.();
    }
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Run fn in one IMMEDIATE transaction (nested calls become savepoints). `op` names it for the beforeCommit hook. */
  private tx<T>(op: string, fn: () => T): T {
    if (this.readOnly) throw new LedgerError('read_only', `${op}: the ledger ${this.file} was opened read-only`);
    const outer = !this.db.inTransaction;
    try {
      return this.db
        .transaction(() => {
          const r = fn();
          if (outer) this.beforeCommit?.(op, r, this.db);
          return r;
        })
        .immediate();
    } catch (e) {
      // a full disk or a ledger made read-only since it was opened: say so (the transaction was rolled back)
      throw (this.file && ledgerIoError(e, this.file, 'write')) || e;
    }
  }

  // ---------------------------------------------------------------------------------------------- models

  /**
   * Record an imported checkpoint. Re-importing the same path with identical file hashes returns the existing
   * record; a changed checkpoint at the same path gets a new model (its edits were made against other weights).
   */
  importModel(info: ModelInfo): ModelRecord {
    return this.tx('importModel', () => {
      const hashes = JSON.stringify(sortKeys(info.fileHashes));
      const same = this.db
        .prepare('SELECT * FROM models WHERE path = ? AND file_hashes_json = ? ORDER BY id DESC LIMIT 1')
        .get(info.path, hashes) as Row | undefined;
      if (same) return mapModel(same);
      const r = this.db
        .prepare('INSERT INTO models (path, arch, config_json, file_hashes_json, imported_at) VALUES (?, ?, ?, ?, ?)')
        .run(info.path, info.arch, JSON.stringify(info.config ?? null), hashes, this.now());
      return this.getModel(Number(r.lastInsertRowid))!;
    });
  }

  getModel(id: number): ModelRecord | undefined {
    const r = this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as Row | undefined;
    return r && mapModel(r);
  }

  /** The newest model imported from this path. */
  findModelByPath(path: string): ModelRecord | undefined {
    const r = this.db.prepare('SELECT * FROM models WHERE path = ? ORDER BY id DESC LIMIT 1').get(path) as Row | undefined;
    return r && mapModel(r);
  }

  listModels(): ModelRecord[] {
    return (this.db.prepare('SELECT * FROM models ORDER BY id').all() as Row[]).map(mapModel);
  }

  private requireModel(id: number): void {
    if (!this.db.prepare('SELECT 1 FROM models WHERE id = ?').get(id)) throw new LedgerError('ledger', `no model with id ${id}`);
  }

  // ---------------------------------------------------------------------------------------------- edits

  /**
   * Record an applied edit. One transaction writes the edit row (next seq), its exact factors, its norm snapshots,
   * the 'edit' event ('replay' when opts.replayOf is set) that makes it live, and marks the queue item done.
   */
  recordEdit(modelId: number, result: EditResult, opts: RecordEditOptions = {}): { editId: number; seq: number; eventId: number } {
    const r = this.tx('recordEdit', () => this.recordEditTx(modelId, result, opts));
    this.seenHead.set(modelId, r.eventId);
    return r;
  }

  private recordEditTx(modelId: number, result: EditResult, opts: RecordEditOptions): { editId: number; seq: number; eventId: number } {
    {
      this.requireModel(modelId);
      const deltas = this.checkDeltas(modelId, result);
      let profile: unknown = opts.profile;
      const items = opts.queueItemId !== undefined ? [opts.queueItemId, ...(opts.batchItemIds ?? [])] : [];
      if (opts.batchItemIds?.length && opts.queueItemId === undefined) throw new LedgerError('ledger', 'batchItemIds need a queueItemId');
      const getItem = this.db.prepare(
        'SELECT i.status, q.model_id, q.profile_json FROM queue_items i JOIN queues q ON q.id = i.queue_id WHERE i.id = ?',
      );
      for (const id of items) {
        const it = getItem.get(id) as Row | undefined;
        if (!it) throw new LedgerError('ledger', `no queue item with id ${id}`);
        if (it.model_id !== modelId) throw new LedgerError('ledger', `queue item ${id} belongs to model ${it.model_id}, not ${modelId}`);
        if (it.status !== 'pending' && it.status !== 'running')
          throw new LedgerError('ledger', `queue item ${id} is ${it.status}; only a pending or running item can receive an edit`);
        if (profile === undefined) profile = parse(it.profile_json);
      }
      if (opts.replayOf !== undefined) {
        const orig = this.db
          .prepare('SELECT e.model_id, l.edit_id AS live FROM edits e LEFT JOIN live_edits l ON l.edit_id = e.id WHERE e.id = ?')
          .get(opts.replayOf) as Row | undefined;
        if (!orig) throw new LedgerError('ledger', `replayOf: no edit with id ${opts.replayOf}`);
        if (orig.model_id !== modelId) throw new LedgerError('ledger', `replayOf: edit ${opts.replayOf} belongs to model ${orig.model_id}`);
        if (orig.live !== null) throw new LedgerError('ledger', `replayOf: edit ${opts.replayOf} is still live; remove it first`);
      }
      const head = this.checkHead(modelId, opts.expectedHead, 'recordEdit');
      const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM edits WHERE model_id = ?').get(modelId) as Row).s as number;
      const now = this.now();
      const e = this.db
        .prepare(
          `INSERT INTO edits (model_id, seq, method, profile_json, layers_json, requests_json, metrics_json, pre_metrics_json,
             timings_json, details_json, stats_json, created_at, queue_item_id, replay_of, approximate, base_event_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          modelId,
          seq,
          result.method,
          JSON.stringify(profile ?? {}),
          JSON.stringify(result.layers ?? []),
          JSON.stringify(result.requests ?? []),
          JSON.stringify(result.metrics ?? []),
          JSON.stringify(result.preMetrics ?? []),
          JSON.stringify(result.timings ?? {}),
          JSON.stringify(result.details ?? {}),
          JSON.stringify(result.statsKeys ?? {}),
          now,
          opts.queueItemId ?? null,
          opts.replayOf ?? null,
          opts.approximate ? 1 : 0,
          head,
        );
      const editId = Number(e.lastInsertRowid);

      const insF = this.db.prepare(
        'INSERT INTO edit_factors (edit_id, ord, layer, tensor, rank, d_out, d_in, ut, vt, sha256, bound_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      deltas.forEach((d, ord) => {
        const ut = encodeF32(d.Ut);
        const vt = encodeF32(d.Vt);
        const bound = boundFactorSha256({ editId, ord, layer: d.layer, tensor: d.tensor, rank: d.rank, dOut: d.dOut, dIn: d.dIn }, ut, vt);
        insF.run(editId, ord, d.layer, d.tensor, d.rank, d.dOut, d.dIn, ut, vt, factorSha256(ut, vt), bound);
      });

      const insN = this.db.prepare(
        `INSERT INTO norm_snapshots (edit_id, layer, tensor, ${NORM_COLUMNS.map((c) => c[1]).join(', ')})
         VALUES (?, ?, ?, ${NORM_COLUMNS.map(() => '?').join(', ')})`,
      );
      for (const n of result.norms ?? []) {
        const values = NORM_COLUMNS.map(([k]) => {
          const v = n[k];
          if (typeof v !== 'number') throw new LedgerError('ledger', `norm snapshot for layer ${n.layer} ${n.tensor}: ${String(k)} is not a number`);
          return Number.isNaN(v) ? null : v;
        });
        insN.run(editId, n.layer, n.tensor, ...values);
      }

      // AlphaEdit's increment of K_p K_pᵀ: the edit's keys, exact float64 bytes
      const insK = this.db.prepare('INSERT INTO edit_keys (edit_id, layer, n, d_ff, keys, sha256) VALUES (?, ?, ?, ?, ?, ?)');
      for (const b of result.preservedKeys ?? []) {
        if (!(b.keys instanceof Float64Array) || !Number.isInteger(b.n) || b.n < 1 || b.keys.length % b.n !== 0)
          throw new LedgerError('ledger', `preserved keys of layer ${b.layer}: expected n ≥ 1 rows of float64, got ${b.keys?.length} values for n = ${b.n}`);
        const bytes = Buffer.from(b.keys.buffer, b.keys.byteOffset, b.keys.byteLength);
        insK.run(editId, b.layer, b.n, b.keys.length / b.n, bytes, createHash('sha256').update(bytes).digest('hex'));
      }

      const kind: EventKind = opts.replayOf !== undefined ? 'replay' : 'edit';
      const eventId = this.insertEvent(modelId, kind, editId, {
        seq,
        method: result.method,
        layers: result.layers ?? [],
        caseIds: (result.requests ?? []).map((r) => r.caseId),
        queueItemId: opts.queueItemId ?? null,
        replayOf: opts.replayOf ?? null,
        approximate: !!opts.approximate,
      });
      this.transition(eventId, [editId], true);

      const done = this.db.prepare(`UPDATE queue_items SET status = 'done', edit_id = ?, error = NULL, updated_at = ? WHERE id = ?`);
      for (const id of items) done.run(editId, now, id);
      return { editId, seq, eventId };
    }
  }

  /** Validate deltas: factor sizes match rank, and each layer keeps one tensor and one shape across the model's edits. */
  private checkDeltas(modelId: number, result: EditResult) {
    const prev = this.db.prepare(
      `SELECT f.tensor, f.d_out, f.d_in FROM edit_factors f JOIN edits e ON e.id = f.edit_id
       WHERE e.model_id = ? AND f.layer = ? LIMIT 1`,
    );
    const seen = new Map<number, { tensor: string; dOut: number; dIn: number }>();
    return (result.deltas ?? []).map((d, i) => {
      const what = `delta ${i} (layer ${d.layer}, ${d.tensor})`;
      if (!(d.Ut instanceof Float32Array) || !(d.Vt instanceof Float32Array)) throw new LedgerError('ledger', `${what}: Ut and Vt must be Float32Array`);
      if (!Number.isInteger(d.layer) || d.layer < 0) throw new LedgerError('ledger', `${what}: bad layer index`);
      let dims: { d: number; dFf: number } | null;
      try {
        dims = factorDims(d, what);
      } catch (e) {
        throw new LedgerError('ledger', (e as Error).message);
      }
      if (!dims) throw new LedgerError('ledger', `${what}: rank 0; leave the layer out of deltas instead`);
      const shape = { tensor: d.tensor, dOut: dims.d, dIn: dims.dFf };
      const p = prev.get(modelId, d.layer) as Row | undefined;
      const before = seen.get(d.layer) ?? (p && { tensor: p.tensor as string, dOut: p.d_out as number, dIn: p.d_in as number });
      if (before && (before.tensor !== shape.tensor || before.dOut !== shape.dOut || before.dIn !== shape.dIn))
        throw new LedgerError(
          'ledger', `${what}: layer ${d.layer} was edited before as ${before.tensor} [${before.dOut} x ${before.dIn}], ` +
            `now ${shape.tensor} [${shape.dOut} x ${shape.dIn}]; the live factors of a layer must stack`,
        );
      seen.set(d.layer, shape);
      return { layer: d.layer, tensor: d.tensor, rank: d.rank, dOut: dims.d, dIn: dims.dFf, Ut: d.Ut, Vt: d.Vt };
    });
  }

  private insertEvent(modelId: number, kind: EventKind, editId: number | null, payload: Record<string, unknown>): number {
    const r = this.db
      .prepare('INSERT INTO events (model_id, kind, edit_id, payload_json, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(modelId, kind, editId, JSON.stringify(payload ?? {}), this.now());
    return Number(r.lastInsertRowid);
  }

  private transition(eventId: number, editIds: number[], active: boolean): void {
    const ins = this.db.prepare('INSERT INTO event_edits (event_id, edit_id, active) VALUES (?, ?, ?)');
    for (const id of editIds) ins.run(eventId, id, active ? 1 : 0);
  }

  private liveIds(modelId: number, afterSeq = 0): { id: number; seq: number }[] {
    return this.db
      .prepare('SELECT edit_id AS id, seq FROM live_edits WHERE model_id = ? AND seq > ? ORDER BY seq')
      .all(modelId, afterSeq) as { id: number; seq: number }[];
  }

  /** Live edits in seq order with their factors (bit-exact). */
  liveEdits(modelId: number): LiveEdit[] {
    return this.readLive(modelId, () => this.liveEditsNow(modelId));
  }

  private liveEditsNow(modelId: number): LiveEdit[] {
    const edits = this.db
      .prepare(
        `SELECT e.id, e.seq, e.method, e.layers_json, e.requests_json, e.replay_of, e.approximate
         FROM live_edits l JOIN edits e ON e.id = l.edit_id WHERE l.model_id = ? ORDER BY l.seq`,
      )
      .all(modelId) as Row[];
    const factors = this.db.prepare('SELECT * FROM edit_factors WHERE edit_id = ? ORDER BY ord');
    const checked = (e: Row) =>
      (factors.all(e.id) as Row[]).map((r) => {
        verifyFactorRow({ ...r, seq: e.seq }, this.file);
        return mapFactors(r);
      });
    return edits.map(
      rowMapper<LiveEdit>({
        id: 'id', seq: 'seq', method: 'method', layers: json('layers_json'), requests: json('requests_json'), replayOf: 'replay_of',
        approximate: bool('approximate'), factors: checked,
      }),
    );
  }

  /**
   * The runtime's factors: per layer, the rows of every live edit's delta concatenated in seq order (then delta
   * order within an edit). Layers without live edits are absent.
   */
  liveFactors(modelId: number): Map<number, LayerFactors> {
    return this.readLive(modelId, () => this.liveFactorsNow(modelId));
  }

  /**
   * Read the live set and remember the head it was read at, in one snapshot (a deferred read transaction): what this
   * connection's caller computes next (an edit on the rebuilt model) is computed on that head.
   */
  private readLive<T>(modelId: number, read: () => T): T {
    const [value, head] = this.db.transaction(() => [read(), this.head(modelId)] as const).deferred();
    this.seenHead.set(modelId, head);
    return value;
  }

  private liveFactorsNow(modelId: number): Map<number, LayerFactors> {
    const rows = this.db
      .prepare(
        `SELECT f.*, l.seq FROM live_edits l JOIN edit_factors f ON f.edit_id = l.edit_id
         WHERE l.model_id = ? ORDER BY f.layer, l.seq, f.ord`,
      )
      .all(modelId) as Row[];
    for (const r of rows) verifyFactorRow(r, this.file);
    const byLayer = new Map<number, Row[]>();
    for (const r of rows) {
      const list = byLayer.get(r.layer) ?? [];
      list.push(r);
      byLayer.set(r.layer, list);
    }
    const out = new Map<number, LayerFactors>();
    for (const [layer, list] of byLayer) {
      const rank = list.reduce((s, r) => s + r.rank, 0);
      const Ut = new Float32Array(rank * list[0].d_out);
      const Vt = new Float32Array(rank * list[0].d_in);
      const ub = new Uint8Array(Ut.buffer);
      const vb = new Uint8Array(Vt.buffer);
      let uo = 0;
      let vo = 0;
      for (const r of list) {
        if (r.d_out !== list[0].d_out || r.d_in !== list[0].d_in) throw new LedgerError('ledger', `layer ${layer}: live factors of different shapes`);
        ub.set(r.ut, uo);
        vb.set(r.vt, vo);
        uo += r.ut.byteLength;
        vo += r.vt.byteLength;
      }
      out.set(layer, { rank, Ut, Vt });
    }
    return out;
  }

  /**
   * AlphaEdit's preserved keys of the live set: every live edit's key blocks in seq order, then layer
   * (the order the running K_p K_pᵀ was summed in), checked against their sha256.
   */
  livePreservedKeys(modelId: number): { editId: number; seq: number; layer: number; n: number; keys: Float64Array }[] {
    const rows = this.db
      .prepare('SELECT k.*, l.seq FROM live_edits l JOIN edit_keys k ON k.edit_id = l.edit_id WHERE l.model_id = ? ORDER BY l.seq, k.layer')
      .all(modelId) as Row[];
    return rows.map((r) => {
      const b = r.keys as Buffer;
      if (createHash('sha256').update(b).digest('hex') !== r.sha256)
        throw new LedgerError('factor_corrupt', `edit ${r.edit_id} (seq ${r.seq}): the stored AlphaEdit keys of layer ${r.layer} no longer match their sha256 in ${this.file || 'the ledger'}; restore the ledger from a backup`);
      const keys = new Float64Array(b.byteLength / 8);
      new Uint8Array(keys.buffer).set(b);
      return { editId: r.edit_id, seq: r.seq, layer: r.layer, n: r.n, keys };
    });
  }

  /** The factors of one edit (live or not), in delta order. */
  editFactors(editId: number): StoredFactors[] {
    const rows = this.db
      .prepare('SELECT f.*, e.seq FROM edit_factors f JOIN edits e ON e.id = f.edit_id WHERE f.edit_id = ? ORDER BY f.ord')
      .all(editId) as Row[];
    for (const r of rows) verifyFactorRow(r, this.file);
    return rows.map(mapFactors);
  }

  /**
   * Every factor row (of one model, or of the whole ledger) that no longer matches its checksum, as messages naming
   * the edit (empty = all intact).
   */
  verifyFactors(modelId?: number): string[] {
    const out: string[] = [];
    const rows = this.db
      .prepare(`SELECT f.*, e.seq FROM edit_factors f JOIN edits e ON e.id = f.edit_id ${modelId === undefined ? '' : 'WHERE e.model_id = ?'} ORDER BY f.edit_id, f.ord`)
      .iterate(...(modelId === undefined ? [] : [modelId])) as Iterable<Row>;
    for (const r of rows) {
      try {
        verifyFactorRow(r, this.file);
      } catch (e) {
        out.push((e as Error).message);
      }
    }
    return out;
  }

  /**
   * The ledger head of a model: the id of its newest state-changing event (edit, revert, remove, replay; 0 = none).
   * Any change of the live set moves it. A writer reads it before computing an edit and passes it back as
   * expectedHead, so that an edit computed on a live set that another writer has changed since is refused.
   */
  head(modelId: number): number {
    return (
      this.db
        .prepare(`SELECT COALESCE(MAX(id), 0) AS h FROM events WHERE model_id = ? AND kind IN (${STATE_EVENT_KINDS.map(() => '?').join(', ')})`)
        .get(modelId, ...STATE_EVENT_KINDS) as Row
    ).h as number;
  }

  /**
   * The current head; throws (code head_moved) when it differs from `expected`, or, without one, from the head this
   * connection last saw (seenHead). Call inside the write transaction.
   */
  private checkHead(modelId: number, expected: number | undefined, what: string): number {
    const head = this.head(modelId);
    const want = expected ?? this.seenHead.get(modelId);
    if (want !== undefined && want !== head)
      throw new LedgerError(
        'head_moved', `${what}: the ledger ${this.file || ''} changed since ${expected !== undefined ? 'the caller' : 'this connection'} read it ` +
          `(head was event ${want}, is now ${head}); another writer changed the live set: reload the workspace and run it again`,
      );
    return head;
  }

  /** seq of the newest live edit (0 = base model) */
  headSeq(modelId: number): number {
    return (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM live_edits WHERE model_id = ?').get(modelId) as Row).s;
  }

  /** Deactivate every live edit with seq > `seq` (0 = back to the base model). Records a 'revert' event. */
  revertTo(modelId: number, seq: number, note?: string, opts: { expectedHead?: number } = {}): RevertResult {
    if (!Number.isInteger(seq) || seq < 0) throw new LedgerError('ledger', `revertTo: seq must be an integer >= 0, got ${seq}`);
    return this.moved(modelId, () => this.tx('revertTo', () => {
      this.requireModel(modelId);
      this.checkHead(modelId, opts.expectedHead, 'revertTo');
      if (seq > 0 && !this.db.prepare('SELECT 1 FROM edits WHERE model_id = ? AND seq = ?').get(modelId, seq))
        throw new LedgerError('ledger', `revertTo: model ${modelId} has no edit with seq ${seq}`);
      const victims = this.liveIds(modelId, seq).map((r) => r.id);
      const eventId = this.insertEvent(modelId, 'revert', null, { toSeq: seq, note: note ?? null, deactivated: victims });
      this.transition(eventId, victims, false);
      return { eventId, deactivated: victims };
    }));
  }

  /** Run a committed state change and remember the head it made (its event) as seen by this connection. */
  private moved<T extends { eventId: number }>(modelId: number, write: () => T): T {
    const r = write();
    this.seenHead.set(modelId, r.eventId);
    return r;
  }

  /**
   * Take one live edit out.
   * - 'drop': deactivate only that edit. Later live edits were computed on top of it, so the live set is then
   *   approximate (the event records approximate: true when there are later live edits).
   * - 'replay': deactivate it and every later live edit, and return the later edits' requests; re-run them and
   *   record each with recordEdit(..., { replayOf: editId }). Until then they show up in pendingReplays().
   */
  removeEdit(modelId: number, editId: number, mode: 'drop' | 'replay', note?: string, opts: { expectedHead?: number } = {}): RemoveResult {
    if (mode !== 'drop' && mode !== 'replay') throw new LedgerError('ledger', `removeEdit: unknown mode "${mode}"`);
    return this.moved(modelId, () => this.tx('removeEdit', () => {
      this.checkHead(modelId, opts.expectedHead, 'removeEdit');
      const e = this.db
        .prepare('SELECT e.model_id, e.seq, l.edit_id AS live FROM edits e LEFT JOIN live_edits l ON l.edit_id = e.id WHERE e.id = ?')
        .get(editId) as Row | undefined;
      if (!e || e.model_id !== modelId) throw new LedgerError('ledger', `removeEdit: model ${modelId} has no edit ${editId}`);
      if (e.live === null) throw new LedgerError('ledger', `removeEdit: edit ${editId} is not live`);
      const later = this.liveIds(modelId, e.seq).map((r) => r.id);
      if (mode === 'drop') {
        const approximate = later.length > 0;
        const eventId = this.insertEvent(modelId, 'remove', editId, { mode, approximate, deactivated: [editId], laterLive: later, note: note ?? null });
        this.transition(eventId, [editId], false);
        return { eventId, mode, approximate, deactivated: [editId], replay: [] };
      }
      const deactivated = [editId, ...later];
      const eventId = this.insertEvent(modelId, 'remove', editId, { mode, approximate: false, deactivated, replay: later, note: note ?? null });
      this.transition(eventId, deactivated, false);
      return { eventId, mode, approximate: false, deactivated, replay: later.map((id) => this.replayRequest(id)) };
    }));
  }

  private replayRequest(editId: number): ReplayRequest {
    return mapReplayRequest(this.db.prepare('SELECT * FROM edits WHERE id = ?').get(editId) as Row);
  }

  /** Edits a 'replay' removal asked to re-apply that have not been recorded again yet (e.g. after a crash). */
  pendingReplays(modelId: number): ReplayRequest[] {
    const removals = this.db
      .prepare(`SELECT id, payload_json FROM events WHERE model_id = ? AND kind = 'remove' AND json_extract(payload_json, '$.mode') = 'replay' ORDER BY id`)
      .all(modelId) as Row[];
    const done = this.db.prepare(
      `SELECT 1 FROM events WHERE model_id = ? AND kind = 'replay' AND id > ? AND json_extract(payload_json, '$.replayOf') = ? LIMIT 1`,
    );
    const out: ReplayRequest[] = [];
    for (const rm of removals) {
      const ids = (parse<Record<string, unknown>>(rm.payload_json).replay as number[]) ?? [];
      for (const id of ids) if (!done.get(modelId, rm.id, id)) out.push(this.replayRequest(id));
    }
    return out;
  }

  /**
   * True when the live set is not what re-running its edits in order would give: a live edit was recorded as
   * approximate, or an edit it was computed on top of has been dropped.
   */
  liveApproximate(modelId: number): boolean {
    if (this.db.prepare('SELECT 1 FROM live_edits l JOIN edits e ON e.id = l.edit_id WHERE l.model_id = ? AND e.approximate = 1 LIMIT 1').get(modelId))
      return true;
    return !!this.db
      .prepare(
        `SELECT 1 FROM events x
           JOIN edits d ON d.id = x.edit_id
           JOIN live_edits l ON l.model_id = x.model_id AND l.seq > d.seq
           JOIN events le ON le.edit_id = l.edit_id AND le.kind IN ('edit', 'replay')
         WHERE x.model_id = ? AND x.kind = 'remove' AND json_extract(x.payload_json, '$.mode') = 'drop' AND le.id < x.id
         LIMIT 1`,
      )
      .get(modelId);
  }

  /** Every edit (live or not) and every event of the model, in order. */
  history(modelId: number): History {
    const edits = (
      this.db
        .prepare(
          `SELECT e.*, l.edit_id IS NOT NULL AS active,
             (SELECT MAX(ee.event_id) FROM event_edits ee WHERE ee.edit_id = e.id AND ee.active = 0) AS deactivated_by
           FROM edits e LEFT JOIN live_edits l ON l.edit_id = e.id WHERE e.model_id = ? ORDER BY e.seq`,
        )
        .all(modelId) as Row[]
    ).map(mapEditSummary);
    const trans = this.db
      .prepare('SELECT ee.event_id, ee.edit_id, ee.active FROM event_edits ee JOIN events v ON v.id = ee.event_id WHERE v.model_id = ? ORDER BY ee.rowid')
      .all(modelId) as Row[];
    const byEvent = new Map<number, Row[]>();
    for (const t of trans) byEvent.set(t.event_id, [...(byEvent.get(t.event_id) ?? []), t]);
    const events = (this.db.prepare('SELECT * FROM events WHERE model_id = ? ORDER BY id').all(modelId) as Row[]).map((r) =>
      mapEvent(r, byEvent.get(r.id) ?? []),
    );
    return { edits, events };
  }

  events(modelId: number, kind?: EventKind): LedgerEvent[] {
    const h = this.history(modelId).events;
    return kind ? h.filter((e) => e.kind === kind) : h;
  }

  /**
   * The export with this id (recorded by an 'export' event whose payload carries `exportId` and `written`: every file
   * it wrote with its size and sha256), of any model of this ledger; undefined when this ledger never wrote it.
   */
  findExport(exportId: string): { eventId: number; modelId: number; outDir: string; files: { name: string; bytes: number; sha256: string }[] } | undefined {
    const r = this.db
      .prepare(`SELECT id, model_id, payload_json FROM events WHERE kind = 'export' AND json_extract(payload_json, '$.exportId') = ? ORDER BY id DESC LIMIT 1`)
      .get(exportId) as Row | undefined;
    if (!r) return undefined;
    const p = parse<{ outDir?: unknown; written?: unknown }>(r.payload_json);
    const files = Array.isArray(p.written)
      ? (p.written as Row[]).filter((f) => typeof f?.name === 'string' && typeof f.bytes === 'number' && typeof f.sha256 === 'string')
      : [];
    return { eventId: r.id, modelId: r.model_id, outDir: String(p.outDir ?? ''), files: files.map((f) => ({ name: f.name, bytes: f.bytes, sha256: f.sha256 })) };
  }

  /** One edit with everything recorded about it (factor shapes; editFactors() for the values). */
  editDetail(editId: number): EditDetail | undefined {
    const r = this.db
      .prepare(
        `SELECT e.*, l.edit_id IS NOT NULL AS active,
           (SELECT MAX(ee.event_id) FROM event_edits ee WHERE ee.edit_id = e.id AND ee.active = 0) AS deactivated_by
         FROM edits e LEFT JOIN live_edits l ON l.edit_id = e.id WHERE e.id = ?`,
      )
      .get(editId) as Row | undefined;
    if (!r) return undefined;
    const norms = (this.db.prepare('SELECT * FROM norm_snapshots WHERE edit_id = ? ORDER BY layer, tensor').all(editId) as Row[]).map(mapNorm);
    const factors = (
      this.db.prepare('SELECT ord, layer, tensor, rank, d_out, d_in FROM edit_factors WHERE edit_id = ? ORDER BY ord').all(editId) as Row[]
    ).map(mapFactorShape);
    return {
      ...mapEditSummary(r),
      profile: parse(r.profile_json),
      details: parse(r.details_json),
      statsKeys: parse(r.stats_json),
      norms,
      factors,
    };
  }

  /** Norm snapshots per (layer, tensor) in seq order, for charts; liveOnly drops inactive edits. */
  normSeries(modelId: number, opts: { liveOnly?: boolean } = {}): NormSeries[] {
    const rows = this.db
      .prepare(
        `SELECT n.*, e.seq, l.edit_id IS NOT NULL AS active FROM norm_snapshots n JOIN edits e ON e.id = n.edit_id
         LEFT JOIN live_edits l ON l.edit_id = e.id
         WHERE e.model_id = ? ${opts.liveOnly ? 'AND l.edit_id IS NOT NULL' : ''} ORDER BY n.layer, n.tensor, e.seq`,
      )
      .all(modelId) as Row[];
    const out: NormSeries[] = [];
    for (const r of rows) {
      let s = out[out.length - 1];
      if (!s || s.layer !== r.layer || s.tensor !== r.tensor) out.push((s = { layer: r.layer, tensor: r.tensor, points: [] }));
      const n = mapNorm(r);
      const p: NormPoint = { editId: r.edit_id, seq: r.seq, active: bool('active')(r), ...n };
      delete (p as Partial<NormSnapshot>).layer;
      delete (p as Partial<NormSnapshot>).tensor;
      s.points.push(p);
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------- health & events

  /** Record a health-task run (and a 'health' event) against the current live set. */
  recordHealth(modelId: number, h: HealthInput): HealthRun {
    return this.tx('recordHealth', () => {
      this.requireModel(modelId);
      const afterEditSeq = h.afterEditSeq ?? this.headSeq(modelId);
      const editsApplied = h.editsApplied ?? this.liveIds(modelId).length;
      const r = this.db
        .prepare(
          `INSERT INTO health_runs (model_id, after_edit_seq, edits_applied, task_id, metric, score, n, baseline_score,
             retention_pct, details_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          modelId,
          afterEditSeq,
          editsApplied,
          h.taskId,
          h.metric,
          nanIn(h.score),
          h.n,
          nanIn(h.baselineScore ?? null),
          nanIn(h.retentionPct ?? null),
          JSON.stringify(h.details ?? {}),
          this.now(),
        );
      const id = Number(r.lastInsertRowid);
      this.insertEvent(modelId, 'health', null, {
        healthRunId: id,
        taskId: h.taskId,
        metric: h.metric,
        score: h.score,
        retentionPct: h.retentionPct ?? null,
        afterEditSeq,
      });
      return mapHealth(this.db.prepare('SELECT * FROM health_runs WHERE id = ?').get(id) as Row);
    });
  }

  healthSeries(modelId: number, taskId?: string): HealthRun[] {
    const rows = taskId
      ? this.db.prepare('SELECT * FROM health_runs WHERE model_id = ? AND task_id = ? ORDER BY id').all(modelId, taskId)
      : this.db.prepare('SELECT * FROM health_runs WHERE model_id = ? ORDER BY id').all(modelId);
    return (rows as Row[]).map(mapHealth);
  }

  /**
   * Record an event that does not change the live set (guardrail_pause, resume, override, export, health).
   * edit / revert / remove / replay events are written only by recordEdit, revertTo and removeEdit.
   */
  recordEvent(modelId: number, kind: FreeEventKind, payload: Record<string, unknown> = {}, editId?: number): LedgerEvent {
    if (STATE_EVENT_KINDS.includes(kind as EventKind))
      throw new LedgerError('ledger', `"${kind}" events change the live set; use recordEdit / revertTo / removeEdit`);
    return this.tx('recordEvent', () => {
      this.requireModel(modelId);
      if (editId !== undefined) {
        const e = this.db.prepare('SELECT model_id FROM edits WHERE id = ?').get(editId) as Row | undefined;
        if (!e || e.model_id !== modelId) throw new LedgerError('ledger', `recordEvent: model ${modelId} has no edit ${editId}`);
      }
      const id = this.insertEvent(modelId, kind, editId ?? null, payload);
      return mapEvent(this.db.prepare('SELECT * FROM events WHERE id = ?').get(id) as Row, []);
    });
  }

  /** Whether the newest guardrail_pause is later than the newest resume. */
  guardrailPaused(modelId: number): boolean {
    const r = this.db
      .prepare(`SELECT kind FROM events WHERE model_id = ? AND kind IN ('guardrail_pause', 'resume') ORDER BY id DESC LIMIT 1`)
      .get(modelId) as Row | undefined;
    return r?.kind === 'guardrail_pause';
  }

  // ---------------------------------------------------------------------------------------------- checks

  /**
   * Recompute the live set from event_edits (the latest transition of each edit) and compare it with live_edits.
   * Returns the edit ids that differ (empty = consistent).
   */
  verifyLiveSet(): { missing: number[]; extra: number[] } {
    const derived = this.db
      .prepare(
        `SELECT ee.edit_id AS id FROM event_edits ee
         WHERE ee.event_id = (SELECT MAX(event_id) FROM event_edits x WHERE x.edit_id = ee.edit_id) AND ee.active = 1`,
      )
      .all() as { id: number }[];
    const stored = this.db.prepare('SELECT edit_id AS id FROM live_edits').all() as { id: number }[];
    const d = new Set(derived.map((r) => r.id));
    const s = new Set(stored.map((r) => r.id));
    return { missing: [...d].filter((x) => !s.has(x)), extra: [...s].filter((x) => !d.has(x)) };
  }

  /** PRAGMA integrity_check, foreign_key_check and the factor checksums; returns the problems (empty = ok). */
  integrityCheck(): string[] {
    const ic = (this.db.pragma('integrity_check') as Row[]).map((r) => String(Object.values(r)[0]));
    const fk = (this.db.pragma('foreign_key_check') as Row[]).map((r) => `foreign key: ${JSON.stringify(r)}`);
    return [...ic.filter((x) => x !== 'ok'), ...fk, ...this.verifyFactors(), ...this.verifyPreservedKeys()];
  }

  /** Every stored AlphaEdit key block whose bytes no longer match its sha256 (empty = all intact). */
  verifyPreservedKeys(): string[] {
    const out: string[] = [];
    for (const r of this.db.prepare('SELECT k.edit_id, k.layer, k.keys, k.sha256, e.seq FROM edit_keys k JOIN edits e ON e.id = k.edit_id ORDER BY k.edit_id, k.layer').iterate() as Iterable<Row>)
      if (createHash('sha256').update(r.keys as Buffer).digest('hex') !== r.sha256)
        out.push(`edit ${r.edit_id} (seq ${r.seq}): the stored AlphaEdit keys of layer ${r.layer} no longer match their sha256 in ${this.file || 'the ledger'}`);
    return out;
  }
}

// ------------------------------------------------------------------------------------------------ row mapping

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function nanIn(x: number | null): number | null {
  return x === null || Number.isNaN(x) ? null : x;
}

const mapModel = rowMapper<ModelRecord>({
  id: 'id', path: 'path', arch: 'arch', config: json('config_json'), fileHashes: json('file_hashes_json'), importedAt: 'imported_at',
});

/**
 * Check a factor row against its checksum. Since 004_factor_binding that is bound_sha256, which covers the bytes and
 * what they belong to (edit, delta index, layer, tensor, rank, shape): a row moved to another layer or edit in SQL
 * fails as surely as a flipped bit. A ledger opened read-only at an older schema is checked by the rule it was written
 * with (002: the bytes only; 001: nothing to check). A NULL checksum in a ledger that has the column is tampering, or
 * a row whose bytes already failed the old checksum when 004 upgraded it.
 */
function verifyFactorRow(r: Row, file: string): void {
  const what = `factor ${r.ord} (layer ${r.layer}, ${r.tensor}) of edit ${r.edit_id}${r.seq !== undefined ? ` (seq ${r.seq})` : ''} in ${file || 'the ledger'}`;
  const undo = `this edit cannot be rebuilt or exported exactly: restore the ledger from a backup or revert past edit ${r.edit_id}`;
  if ('bound_sha256' in r) {
    if (r.bound_sha256 === null)
      throw new LedgerError(
        'factor_corrupt', `${what} has no bound checksum: its bytes no longer matched their sha256 when the ledger was upgraded, ` +
          `or the ledger was changed outside EAC Studio; ${undo}`,
      );
    const bound = boundFactorSha256({ editId: r.edit_id, ord: r.ord, layer: r.layer, tensor: r.tensor, rank: r.rank, dOut: r.d_out, dIn: r.d_in }, r.ut, r.vt);
    if (bound === r.bound_sha256) return;
    // say which half changed: intact bytes under a rewritten edit / layer / tensor / shape, or changed bytes
    const bytesIntact = typeof r.sha256 === 'string' && factorSha256(r.ut, r.vt) === r.sha256;
    throw new LedgerError(
      'factor_corrupt', bytesIntact
        ? `${what} was moved: its bytes are intact but the edit, layer, tensor, rank or shape it is filed under changed after it was ` +
            `recorded (an outside change to the ledger); ${undo}`
        : `${what} is corrupt: it no longer matches the checksum recorded when the edit was written (disk corruption or an outside ` +
            `change to the ledger); ${undo}`,
    );
  }
  if (!('sha256' in r)) return;
  if (r.sha256 === null) throw new LedgerError('factor_corrupt', `${what} has no checksum; the ledger was changed outside EAC Studio`);
  const now = factorSha256(r.ut, r.vt);
  if (now !== r.sha256)
    throw new LedgerError(
      'factor_corrupt', `${what} is corrupt: its bytes hash to sha256 ${now}, recorded ${r.sha256} when the edit was written. ` +
        `The stored factors changed after they were recorded (disk corruption or an outside change); ${undo}`,
    );
}

const FACTOR_SHAPE: { [K in keyof FactorShape]: string } = { ord: 'ord', layer: 'layer', tensor: 'tensor', rank: 'rank', dOut: 'd_out', dIn: 'd_in' };
const mapFactorShape = rowMapper<FactorShape>(FACTOR_SHAPE);
const mapFactors = rowMapper<StoredFactors>({
  ...FACTOR_SHAPE,
  Ut: (r) => decodeF32(r.ut, r.rank * r.d_out),
  Vt: (r) => decodeF32(r.vt, r.rank * r.d_in),
});

const mapReplayRequest = rowMapper<ReplayRequest>({
  editId: 'id', seq: 'seq', method: 'method', layers: json('layers_json'), requests: json('requests_json'), profile: json('profile_json'),
  queueItemId: 'queue_item_id',
});

const mapEditSummary = rowMapper<EditSummary>({
  id: 'id', modelId: 'model_id', seq: 'seq', method: 'method', layers: json('layers_json'), requests: json('requests_json'),
  metrics: json('metrics_json'), preMetrics: json('pre_metrics_json'), timings: json('timings_json'), createdAt: 'created_at',
  queueItemId: 'queue_item_id', replayOf: 'replay_of', approximate: bool('approximate'), active: bool('active'),
  deactivatedBy: (r) => (r.active ? null : (r.deactivated_by ?? null)),
});

function mapNorm(r: Row): NormSnapshot {
  const n = { layer: r.layer, tensor: r.tensor } as NormSnapshot;
  for (const [k, c] of NORM_COLUMNS) (n as unknown as Record<string, unknown>)[k] = real(c)(r);
  return n;
}

/** An event row with its live-set transitions (edit_transitions rows of the event). */
const mapEvent = (r: Row, trans: Row[]): LedgerEvent =>
  rowMapper<LedgerEvent>({
    id: 'id', modelId: 'model_id', kind: 'kind', editId: 'edit_id', payload: json('payload_json'), createdAt: 'created_at',
    activated: () => trans.filter((t) => t.active === 1).map((t) => t.edit_id),
    deactivated: () => trans.filter((t) => t.active === 0).map((t) => t.edit_id),
  })(r);

const mapHealth = rowMapper<HealthRun>({
  id: 'id', modelId: 'model_id', afterEditSeq: 'after_edit_seq', editsApplied: 'edits_applied', taskId: 'task_id', metric: 'metric',
  score: real('score'), n: 'n', baselineScore: 'baseline_score', retentionPct: 'retention_pct', details: json('details_json'), createdAt: 'created_at',
});
