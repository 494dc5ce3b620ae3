import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EditResult, LayerDelta, NormSnapshot } from '../../src-main/engine/edit/types';
import type { EditRequest } from '../../src-main/engine/facts/types';
import type { LayerFactors } from '../../src-main/engine/runtime/model';
import { openLedger } from '../../src-main/store/db';
import { concatFactors, decodeF32, encodeF32, Ledger, LedgerError } from '../../src-main/store/ledger';
import { seededRandom } from '../../src-main/engine/runtime/model';
// ---- fixtures

function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'eac-store-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const rng = seededRandom;

/** Random float32 values including -0, subnormals, ±Inf and NaNs with distinct payloads. */
function nastyF32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  const bits = new Uint32Array(a.buffer);
  for (let i = 0; i < n; i++) {
    const k = i % 8;
    if (k === 0) bits[i] = 0x80000000; // -0
    else if (k === 1) bits[i] = 1 + Math.floor(r() * 0x7fffff); // positive subnormal
    else if (k === 2) bits[i] = 0x80000000 | (1 + Math.floor(r() * 0x7fffff)); // negative subnormal
    else if (k === 3) bits[i] = 0x7f800000 | (1 + Math.floor(r() * 0x3fffff)); // signalling-style NaN payload
    else if (k === 4) bits[i] = 0xffc00000 | Math.floor(r() * 0x3fffff); // negative quiet NaN with payload
    else bits[i] = Math.floor(r() * 0x100000000) & 0xff7fffff; // random finite-ish bits
  }
  return a;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const D = 6; // hidden
const DFF = 10; // d_ff

function request(caseId: string): EditRequest {
  return {
    caseId,
    prompt: '{} is located in',
    subject: `Subject ${caseId}`,
    targetNew: `Target ${caseId}`,
    rephrase: [`Where is Subject ${caseId}?`],
    locality: [{ prompt: 'Paris is the capital of', target: 'France' }],
  };
}

function delta(layer: number, rank: number, seed: number, tensor = `h.${layer}.mlp.c_proj.weight`): LayerDelta {
  const r = rng(seed);
  const Ut = new Float32Array(rank * D).map(() => r() * 2 - 1);
  const Vt = new Float32Array(rank * DFF).map(() => r() * 2 - 1);
  return { layer, tensor, rank, Ut, Vt };
}

function norm(layer: number, x: number, tensor = `h.${layer}.mlp.c_proj.weight`): NormSnapshot {
  return {
    layer,
    tensor,
    l1: 100 + x,
    l1Base: 100,
    l1GrowthPct: x,
    fro: 10 + x / 10,
    maxAbs: 1 + x / 100,
    relChange: x / 1000,
    deltaFro: x / 100,
    deltaL1: x,
    factorNormU: 1,
    factorNormV: 2,
  };
}

function editResult(caseIds: string[], deltas: LayerDelta[], growth = 1): EditResult {
  return {
    method: deltas.length > 1 ? 'memit' : 'rome',
    requests: caseIds.map(request),
    layers: [...new Set(deltas.map((d) => d.layer))],
    deltas,
    metrics: caseIds.map((caseId) => ({ caseId, reliability: 1, generalization: 0.5, locality: 1 })),
    preMetrics: caseIds.map((caseId) => ({ caseId, reliability: 0, generalization: 0, locality: 1 })),
    norms: deltas.map((d) => norm(d.layer, growth, d.tensor)),
    timings: { keys: 12, optimise: 340, update: 3 },
    details: { losses: [3.2, 1.1, 0.2], anchors: 17 },
    statsKeys: Object.fromEntries(deltas.map((d) => [d.layer, `stats-${d.layer}`])),
  };
}

// ------------------------------------------------------------------------------------------------

let tmp: { dir: string; cleanup: () => void };
let ledger: Ledger;
let modelId: number;
let file: string;

beforeEach(() => {
  tmp = tempDir();
  file = join(tmp.dir, 'ledger.db');
  ledger = openLedger(file);
  modelId = ledger.importModel({ path: '/models/gpt2', arch: 'gpt2', config: { n_layer: 4 }, fileHashes: { 'model.safetensors': 'ab'.repeat(32) } }).id;
});
afterEach(() => {
  ledger.close();
  tmp.cleanup();
});

const count = (table: string) => (ledger.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

function expectFactors(actual: LayerFactors | undefined, parts: { rank: number; Ut: Float32Array; Vt: Float32Array }[]) {
  const want = concatFactors(parts);
  expect(actual).toBeDefined();
  expect(actual!.rank).toBe(want.rank);
  expect(sameBits(actual!.Ut, want.Ut)).toBe(true);
  expect(sameBits(actual!.Vt, want.Vt)).toBe(true);
}

/** Hand-built concatenation, independent of concatFactors. */
function handConcat(parts: { rank: number; Ut: Float32Array; Vt: Float32Array }[]): LayerFactors {
  const Ut: number[] = [];
  const Vt: number[] = [];
  for (const p of parts) {
    for (let r = 0; r < p.rank; r++) {
      for (let i = 0; i < D; i++) Ut.push(p.Ut[r * D + i]);
      for (let i = 0; i < DFF; i++) Vt.push(p.Vt[r * DFF + i]);
    }
  }
  return { rank: parts.reduce((s, p) => s + p.rank, 0), Ut: Float32Array.from(Ut), Vt: Float32Array.from(Vt) };
}

describe('factor codec', () => {
  it('round-trips float32 bit-exactly (-0, subnormals, NaN payloads) through encode/decode and concat', () => {
    const a = nastyF32(4099, 7);
    const sub = a.subarray(3, 3 + 4000); // a view with a byte offset
    const buf = Buffer.concat([Buffer.from([1]), encodeF32(sub)]).subarray(1); // unaligned source bytes
    const back = decodeF32(buf, 4000);
    expect(sameBits(back, sub)).toBe(true);
    expect(Object.is(back[5], -0)).toBe(true); // element 8 of a
    expect(new Uint32Array(back.buffer)[0] & 0x7f800000).toBe(0x7f800000); // element 3 of a: a NaN with a payload
    expect(back[0]).toBeNaN();
    expect(back[6] > 0 && back[6] < 1.2e-38).toBe(true); // element 9 of a: a positive subnormal, not flushed to 0
    expect(() => decodeF32(Buffer.alloc(7))).toThrow(/whole number/);
    expect(() => decodeF32(Buffer.alloc(8), 3)).toThrow(/expected 3/);

    const p1 = { rank: 2, Ut: nastyF32(2 * D, 1), Vt: nastyF32(2 * DFF, 2) };
    const p2 = { rank: 1, Ut: nastyF32(D, 3), Vt: nastyF32(DFF, 4) };
    const c = concatFactors([p1, p2]);
    expect(c.rank).toBe(3);
    expect(sameBits(c.Ut.subarray(0, 2 * D), p1.Ut)).toBe(true);
    expect(sameBits(c.Ut.subarray(2 * D), p2.Ut)).toBe(true);
    expect(sameBits(c.Vt.subarray(2 * DFF), p2.Vt)).toBe(true);
    expect(concatFactors([])).toEqual({ rank: 0, Ut: new Float32Array(0), Vt: new Float32Array(0) });
    expect(() => concatFactors([p1, { rank: 1, Ut: new Float32Array(D + 1), Vt: new Float32Array(DFF) }])).toThrow(/different|multiples|earlier/);
  });
});

describe('models', () => {
  it('imports, finds by path, and re-import is idempotent unless the weights changed', () => {
    const m = ledger.getModel(modelId)!;
    expect(m).toMatchObject({ path: '/models/gpt2', arch: 'gpt2', config: { n_layer: 4 } });
    expect(m.fileHashes['model.safetensors']).toHaveLength(64);
    expect(ledger.importModel({ path: '/models/gpt2', arch: 'gpt2', config: {}, fileHashes: { 'model.safetensors': 'ab'.repeat(32) } }).id).toBe(modelId);
    const changed = ledger.importModel({ path: '/models/gpt2', arch: 'gpt2', config: {}, fileHashes: { 'model.safetensors': 'cd'.repeat(32) } });
    expect(changed.id).not.toBe(modelId);
    expect(ledger.findModelByPath('/models/gpt2')!.id).toBe(changed.id);
    expect(ledger.findModelByPath('/nope')).toBeUndefined();
    expect(ledger.getModel(999)).toBeUndefined();
  });
});

describe('queues', () => {
  it('creates items, walks pending ones, reorders and edits only pending/invalid rows', () => {
    const q = ledger.queues.createQueue(modelId, 'batch 1', 'eac-rome', { layer: 1 }, [request('a'), request('b'), request('c')], [
      { row: 5, message: 'Row 5: target_new is empty' },
      { row: 7, message: 'Row 7: prompt has no {}', request: { ...request('x'), prompt: 'no placeholder' } },
    ]);
    expect(q).toMatchObject({ modelId, name: 'batch 1', method: 'eac-rome', profile: { layer: 1 } });
    let items = ledger.queues.queueItems(q.id);
    expect(items.map((i) => [i.position, i.status, i.request?.caseId ?? null, i.sourceRow])).toEqual([
      [0, 'pending', 'a', null],
      [1, 'pending', 'b', null],
      [2, 'pending', 'c', null],
      [3, 'invalid', null, 5],
      [4, 'invalid', 'x', 7],
    ]);
    expect(items[3].error).toMatch(/Row 5/);
    const [a, b, c, bad5, bad7] = items;
    expect(ledger.queues.nextPendingItem(q.id)!.id).toBe(a.id);

    // reorder the pending ones: c, a, b
    ledger.queues.reorderItems(q.id, [c.id, a.id, b.id]);
    items = ledger.queues.queueItems(q.id);
    expect(items.map((i) => i.id)).toEqual([c.id, a.id, b.id, bad5.id, bad7.id]);
    expect(ledger.queues.nextPendingItem(q.id)!.id).toBe(c.id);
    // full reorder
    ledger.queues.reorderItems(q.id, [bad7.id, bad5.id, a.id, b.id, c.id]);
    expect(ledger.queues.queueItems(q.id).map((i) => i.id)).toEqual([bad7.id, bad5.id, a.id, b.id, c.id]);
    expect(() => ledger.queues.reorderItems(q.id, [a.id, a.id])).toThrow(/twice/);
    expect(() => ledger.queues.reorderItems(q.id, [a.id, 9999])).toThrow(/not in queue/);

    // statuses
    expect(ledger.queues.markItem(a.id, 'running').status).toBe('running');
    expect(ledger.queues.markItem(a.id, 'failed', 'v* did not converge')).toMatchObject({ status: 'failed', error: 'v* did not converge' });
    expect(() => ledger.queues.markItem(a.id, 'done')).toThrow(/recording its edit/);
    expect(() => ledger.queues.markItem(bad5.id, 'pending')).toThrow(/no parsable request/);
    expect(ledger.queues.markItem(b.id, 'skipped').status).toBe('skipped');

    // edit rows
    expect(ledger.queues.updateItemRequest(c.id, request('c2')).request!.caseId).toBe('c2');
    expect(() => ledger.queues.updateItemRequest(a.id, request('a2'))).toThrow(/failed; only pending/);
    const fixed = ledger.queues.updateItemRequest(bad5.id, request('fixed5'));
    expect(fixed).toMatchObject({ status: 'pending', error: null, sourceRow: 5 });

    // recordEdit marks it done; a done item cannot change
    const { editId } = ledger.recordEdit(modelId, editResult(['c2'], [delta(1, 1, 1)]), { queueItemId: c.id });
    expect(ledger.queues.getItem(c.id)).toMatchObject({ status: 'done', editId });
    expect(ledger.editDetail(editId)!.profile).toEqual({ layer: 1 }); // queue profile by default
    expect(() => ledger.queues.markItem(c.id, 'pending')).toThrow(/is done/);
    expect(() => ledger.queues.updateItemRequest(c.id, request('z'))).toThrow(/done; only pending/);
    expect(() => ledger.recordEdit(modelId, editResult(['c2'], [delta(1, 1, 2)]), { queueItemId: c.id })).toThrow(/is done/);
    // the database itself refuses an item marked done without an edit
    expect(() => ledger.db.prepare(`UPDATE queue_items SET status = 'done' WHERE id = ?`).run(b.id)).toThrow(/CHECK/);
  });
});

describe('edits', () => {
  it('records an edit in one go and reads its factors back bit-exactly', () => {
    const d1 = { ...delta(2, 3, 11), Ut: nastyF32(3 * D, 21), Vt: nastyF32(3 * DFF, 22) };
    const d2 = { ...delta(3, 3, 12), Ut: nastyF32(3 * D, 23), Vt: nastyF32(3 * DFF, 24) };
    const res = editResult(['a', 'b', 'c'], [d1, d2], 0.25);
    res.norms[0].l1GrowthPct = NaN;
    res.norms[1].maxAbs = Infinity;
    const { editId, seq } = ledger.recordEdit(modelId, res, { profile: { lr: 0.5 } });
    expect(seq).toBe(1);

    const live = ledger.liveEdits(modelId);
    expect(live).toHaveLength(1);
    expect(live[0]).toMatchObject({ id: editId, seq: 1, method: 'memit', layers: [2, 3], approximate: false, replayOf: null });
    expect(live[0].requests.map((r) => r.caseId)).toEqual(['a', 'b', 'c']);
    expect(live[0].factors.map((f) => [f.ord, f.layer, f.tensor, f.rank, f.dOut, f.dIn])).toEqual([
      [0, 2, 'h.2.mlp.c_proj.weight', 3, D, DFF],
      [1, 3, 'h.3.mlp.c_proj.weight', 3, D, DFF],
    ]);
    expect(sameBits(live[0].factors[0].Ut, d1.Ut)).toBe(true);
    expect(sameBits(live[0].factors[0].Vt, d1.Vt)).toBe(true);
    expect(sameBits(live[0].factors[1].Ut, d2.Ut)).toBe(true);
    expect(sameBits(live[0].factors[1].Vt, d2.Vt)).toBe(true);
    expect(ledger.editFactors(editId).every((f) => f.Ut.byteOffset === 0)).toBe(true);

    const lf = ledger.liveFactors(modelId);
    expect([...lf.keys()]).toEqual([2, 3]);
    expect(sameBits(lf.get(2)!.Ut, d1.Ut) && sameBits(lf.get(2)!.Vt, d1.Vt)).toBe(true);

    const detail = ledger.editDetail(editId)!;
    expect(detail).toMatchObject({
      seq: 1,
      active: true,
      profile: { lr: 0.5 },
      details: { losses: [3.2, 1.1, 0.2], anchors: 17 },
      statsKeys: { 2: 'stats-2', 3: 'stats-3' },
      timings: { keys: 12, optimise: 340, update: 3 },
    });
    expect(detail.metrics[0]).toEqual({ caseId: 'a', reliability: 1, generalization: 0.5, locality: 1 });
    expect(detail.norms).toHaveLength(2);
    expect(detail.norms[0].l1GrowthPct).toBeNaN();
    expect(detail.norms[1].maxAbs).toBe(Infinity);
    expect(detail.norms[1]).toMatchObject({ layer: 3, l1: 100.25, l1Base: 100, deltaL1: 0.25, factorNormV: 2 });

    const ev = ledger.history(modelId).events;
    expect(ev.map((e) => [e.kind, e.editId, e.activated])).toEqual([['edit', editId, [editId]]]);
    expect(ledger.integrityCheck()).toEqual([]);
  });

  it('persists across close and reopen', () => {
    const d1 = { ...delta(1, 2, 5), Ut: nastyF32(2 * D, 1), Vt: nastyF32(2 * DFF, 2) };
    ledger.recordEdit(modelId, editResult(['a'], [d1]));
    ledger.recordEdit(modelId, editResult(['b'], [delta(1, 1, 6)]));
    const before = ledger.liveFactors(modelId).get(1)!;
    ledger.close();
    ledger = openLedger(file);
    const after = ledger.liveFactors(modelId).get(1)!;
    expect(after.rank).toBe(3);
    expect(sameBits(after.Ut, before.Ut) && sameBits(after.Vt, before.Vt)).toBe(true);
    expect(sameBits(after.Ut.subarray(0, 2 * D), d1.Ut)).toBe(true);
  });

  it('rejects malformed deltas and shape changes of a layer', () => {
    expect(() => ledger.recordEdit(modelId, editResult(['a'], [{ ...delta(1, 2, 1), rank: 3 }]))).toThrow(LedgerError);
    expect(() => ledger.recordEdit(modelId, editResult(['a'], [{ ...delta(1, 1, 1), rank: 0 }]))).toThrow(/rank|multiples/);
    ledger.recordEdit(modelId, editResult(['a'], [delta(1, 1, 1)]));
    const wide = { layer: 1, tensor: 'h.1.mlp.c_proj.weight', rank: 1, Ut: new Float32Array(D + 2), Vt: new Float32Array(DFF) };
    expect(() => ledger.recordEdit(modelId, editResult(['b'], [wide]))).toThrow(/must stack/);
    expect(() => ledger.recordEdit(modelId, editResult(['b'], [delta(1, 1, 2, 'other.weight')]))).toThrow(/must stack/);
    expect(() => ledger.recordEdit(999, editResult(['b'], [delta(1, 1, 2)]))).toThrow(/no model/);
    expect(count('edits')).toBe(1);
  });

  it('a transaction that fails midway (norm insert) leaves nothing behind', () => {
    const q = ledger.queues.createQueue(modelId, 'q', 'rome', {}, [request('a')]);
    const item = ledger.queues.nextPendingItem(q.id)!;
    ledger.queues.markItem(item.id, 'running');
    ledger.recordEdit(modelId, editResult(['first'], [delta(1, 1, 1)]));
    const tables = ['edits', 'edit_factors', 'norm_snapshots', 'events', 'event_edits', 'live_edits'];
    const snapshot = () => Object.fromEntries(tables.map((t) => [t, count(t)]));
    const before = snapshot();
    const liveBefore = ledger.liveFactors(modelId).get(1)!;

    // 1. the database rejects the norm row (simulated disk/constraint failure after edit + factors were written)
    ledger.db.exec(`CREATE TEMP TRIGGER fail_norms BEFORE INSERT ON norm_snapshots BEGIN SELECT RAISE(ABORT, 'simulated norm failure'); END`);
    expect(() => ledger.recordEdit(modelId, editResult(['a'], [delta(1, 1, 2), delta(2, 1, 3)]), { queueItemId: item.id })).toThrow(
      /simulated norm failure/,
    );
    ledger.db.exec('DROP TRIGGER fail_norms');
    expect(snapshot()).toEqual(before);
    expect(ledger.queues.getItem(item.id)).toMatchObject({ status: 'running', editId: null });

    // 2. a bad second norm (the first one was already inserted)
    const bad = editResult(['a'], [delta(1, 1, 2), delta(2, 1, 3)]);
    (bad.norms[1] as unknown as Record<string, unknown>).fro = undefined;
    expect(() => ledger.recordEdit(modelId, bad, { queueItemId: item.id })).toThrow(/fro is not a number/);
    expect(snapshot()).toEqual(before);
    expect(ledger.queues.getItem(item.id)!.status).toBe('running');

    const after = ledger.liveFactors(modelId).get(1)!;
    expect(after.rank).toBe(1);
    expect(sameBits(after.Ut, liveBefore.Ut)).toBe(true);
    // the next good edit gets seq 2: nothing was consumed by the failures
    expect(ledger.recordEdit(modelId, editResult(['a'], [delta(1, 1, 2)]), { queueItemId: item.id }).seq).toBe(2);
    expect(ledger.integrityCheck()).toEqual([]);
  });

  it('one MEMIT batch edit marks all its queue items done, or none of them', () => {
    const q = ledger.queues.createQueue(modelId, 'batch', 'memit', {}, [request('a'), request('b'), request('c')]);
    const [a, b, c] = ledger.queues.queueItems(q.id);
    const edits = count('edits');
    ledger.queues.markItem(c.id, 'skipped');
    expect(() => ledger.recordEdit(modelId, editResult(['a', 'c'], [delta(1, 2, 1)]), { queueItemId: a.id, batchItemIds: [c.id] })).toThrow(
      new RegExp(`queue item ${c.id} is skipped`),
    );
    expect(count('edits')).toBe(edits);
    expect(ledger.queues.getItem(a.id)!.status).toBe('pending');
    const r = ledger.recordEdit(modelId, editResult(['a', 'b'], [delta(1, 2, 1)]), { queueItemId: a.id, batchItemIds: [b.id] });
    expect(ledger.queues.getItem(a.id)).toMatchObject({ status: 'done', editId: r.editId });
    expect(ledger.queues.getItem(b.id)).toMatchObject({ status: 'done', editId: r.editId });
    expect(() => ledger.recordEdit(modelId, editResult(['x'], [delta(1, 1, 1)]), { batchItemIds: [c.id] })).toThrow(/need a queueItemId/);
  });

  it('a process that dies inside recordEdit leaves no trace after reopening', () => {
    ledger.recordEdit(modelId, editResult(['first'], [delta(1, 1, 1)]));
    const before = Object.fromEntries(['edits', 'edit_factors', 'norm_snapshots', 'events', 'event_edits', 'live_edits'].map((t) => [t, count(t)]));
    ledger.close();
    const script = join(tmp.dir, 'crash.ts');
    const store = resolve(__dirname, '../../src-main/store/db');
    writeFileSync(
      script,
      `import { openLedger } from ${JSON.stringify(store)};
       const l = openLedger(${JSON.stringify(file)});
       // die (no rollback, no close) while the norm rows are being written
       l.db.function('die', () => process.exit(3));
       l.db.exec("CREATE TEMP TRIGGER die_on_norm BEFORE INSERT ON norm_snapshots BEGIN SELECT die(); END");
       const f = () => new Float32Array(${D}).fill(1);
       l.recordEdit(${modelId}, {
         method: 'rome', requests: [], layers: [1], metrics: [], preMetrics: [], timings: {}, details: {}, statsKeys: {},
         deltas: [{ layer: 1, tensor: 'h.1.mlp.c_proj.weight', rank: 1, Ut: f(), Vt: new Float32Array(${DFF}) }],
         norms: [{ layer: 1, tensor: 'h.1.mlp.c_proj.weight', l1: 1, l1Base: 1, l1GrowthPct: 0, fro: 1, maxAbs: 1, relChange: 0, deltaFro: 0, deltaL1: 0, factorNormU: 1, factorNormV: 1 }],
       });
       process.exit(0);`,
    );
    const tsx = resolve(__dirname, '../../node_modules/tsx/dist/cli.mjs');
    const r = spawnSync(process.execPath, [tsx, script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(3);
    ledger = openLedger(file);
    expect(Object.fromEntries(Object.keys(before).map((t) => [t, count(t)]))).toEqual(before);
    expect(ledger.liveFactors(modelId).get(1)!.rank).toBe(1);
    expect(ledger.integrityCheck()).toEqual([]);
  });

  it('history tables are append-only at the database level', () => {
    const { editId } = ledger.recordEdit(modelId, editResult(['a'], [delta(1, 1, 1)]));
    expect(() => ledger.db.prepare('UPDATE edits SET method = ? WHERE id = ?').run('ft', editId)).toThrow(/append-only/);
    expect(() => ledger.db.prepare('DELETE FROM edits WHERE id = ?').run(editId)).toThrow(/append-only/);
    expect(() => ledger.db.prepare('DELETE FROM edit_factors').run()).toThrow(/append-only/);
    expect(() => ledger.db.prepare('UPDATE edit_factors SET ut = zeroblob(24)').run()).toThrow(/append-only/);
    expect(() => ledger.db.prepare('DELETE FROM norm_snapshots').run()).toThrow(/append-only/);
    expect(() => ledger.db.prepare('DELETE FROM events').run()).toThrow(/append-only/);
    expect(() => ledger.db.prepare('UPDATE event_edits SET active = 0').run()).toThrow(/append-only/);
    expect(() => ledger.db.prepare('DELETE FROM models').run()).toThrow(/append-only/);
    // a second activation of a live edit is refused
    const ev = ledger.history(modelId).events[0].id;
    expect(() => ledger.db.prepare('INSERT INTO event_edits (event_id, edit_id, active) VALUES (?, ?, 1)').run(ev + 0, editId)).toThrow();
  });
});

describe('rollback', () => {
  /** five rank-1/2 edits on layers 1 and 2; returns their ids and deltas */
  function fiveEdits() {
    const ds = [
      [delta(1, 1, 101)],
      [delta(1, 2, 102), delta(2, 1, 103)],
      [delta(2, 1, 104)],
      [delta(1, 1, 105)],
      [delta(1, 1, 106), delta(2, 2, 107)],
    ];
    const ids = ds.map((d, i) => ledger.recordEdit(modelId, editResult([`e${i + 1}`], d, i + 1)).editId);
    return { ds, ids };
  }
  const layerParts = (ds: ReturnType<typeof delta>[][], layer: number) => ds.flat().filter((d) => d.layer === layer);

  it('liveFactors concatenates rows in seq order (checked against a hand-built stack)', () => {
    const { ds } = fiveEdits();
    const lf = ledger.liveFactors(modelId);
    const h1 = handConcat(layerParts(ds, 1));
    const h2 = handConcat(layerParts(ds, 2));
    expect(lf.get(1)!.rank).toBe(5);
    expect(lf.get(2)!.rank).toBe(4);
    expect(sameBits(lf.get(1)!.Ut, h1.Ut) && sameBits(lf.get(1)!.Vt, h1.Vt)).toBe(true);
    expect(sameBits(lf.get(2)!.Ut, h2.Ut) && sameBits(lf.get(2)!.Vt, h2.Vt)).toBe(true);
    expectFactors(lf.get(1), layerParts(ds, 1));
    // first row of layer 1 is edit 1's, the last is edit 5's
    expect(sameBits(lf.get(1)!.Ut.subarray(0, D), ds[0][0].Ut)).toBe(true);
    expect(sameBits(lf.get(1)!.Ut.subarray(4 * D), ds[4][0].Ut)).toBe(true);
  });

  it('revertTo deactivates every later edit, keeps them in history, and seq keeps counting', () => {
    const { ds, ids } = fiveEdits();
    const r = ledger.revertTo(modelId, 2, 'bad batch');
    expect(r.deactivated).toEqual([ids[2], ids[3], ids[4]]);
    expect(ledger.liveEdits(modelId).map((e) => e.seq)).toEqual([1, 2]);
    expect(ledger.headSeq(modelId)).toBe(2);
    let lf = ledger.liveFactors(modelId);
    expectFactors(lf.get(1), layerParts(ds.slice(0, 2), 1));
    expectFactors(lf.get(2), layerParts(ds.slice(0, 2), 2));

    const h = ledger.history(modelId);
    expect(h.edits.map((e) => [e.seq, e.active])).toEqual([
      [1, true],
      [2, true],
      [3, false],
      [4, false],
      [5, false],
    ]);
    expect(h.edits[2].deactivatedBy).toBe(r.eventId);
    const rev = h.events.find((e) => e.kind === 'revert')!;
    expect(rev).toMatchObject({ id: r.eventId, deactivated: [ids[2], ids[3], ids[4]], payload: { toSeq: 2, note: 'bad batch' } });
    // the reverted edits' factors are still stored
    expect(sameBits(ledger.editFactors(ids[4])[1].Vt, ds[4][1].Vt)).toBe(true);

    // a new edit gets seq 6 and stacks on top of 1, 2
    const d6 = delta(2, 1, 108);
    expect(ledger.recordEdit(modelId, editResult(['e6'], [d6])).seq).toBe(6);
    lf = ledger.liveFactors(modelId);
    expectFactors(lf.get(2), [...layerParts(ds.slice(0, 2), 2), d6]);

    // revert to a reverted seq: deactivates 6 only
    expect(ledger.revertTo(modelId, 4).deactivated).toEqual([ids[4] + 1]);
    // revert to base: everything off, layers absent; every rollback is its own event
    ledger.revertTo(modelId, 0);
    expect(ledger.liveFactors(modelId).size).toBe(0);
    expect(ledger.liveEdits(modelId)).toEqual([]);
    const evs = ledger.history(modelId).events;
    expect(evs.filter((e) => e.kind === 'revert')).toHaveLength(3);
    expect(evs.filter((e) => e.kind === 'edit')).toHaveLength(6);
    expect(ledger.history(modelId).edits).toHaveLength(6);
    expect(() => ledger.revertTo(modelId, 42)).toThrow(/no edit with seq 42/);
    expect(() => ledger.revertTo(modelId, -1)).toThrow(/>= 0/);
    expect(ledger.verifyLiveSet()).toEqual({ missing: [], extra: [] });
    expect(ledger.integrityCheck()).toEqual([]);
  });

  it('removeEdit drop deactivates one edit and marks the live set approximate', () => {
    const { ds, ids } = fiveEdits();
    expect(ledger.liveApproximate(modelId)).toBe(false);
    const r = ledger.removeEdit(modelId, ids[1], 'drop');
    expect(r).toMatchObject({ mode: 'drop', approximate: true, deactivated: [ids[1]], replay: [] });
    expect(ledger.liveEdits(modelId).map((e) => e.seq)).toEqual([1, 3, 4, 5]);
    const kept = [ds[0], ds[2], ds[3], ds[4]];
    const lf = ledger.liveFactors(modelId);
    const h1 = handConcat(layerParts(kept, 1));
    expect(lf.get(1)!.rank).toBe(3);
    expect(sameBits(lf.get(1)!.Ut, h1.Ut) && sameBits(lf.get(1)!.Vt, h1.Vt)).toBe(true);
    expectFactors(lf.get(2), layerParts(kept, 2));
    expect(ledger.liveApproximate(modelId)).toBe(true);
    const ev = ledger.history(modelId).events.at(-1)!;
    expect(ev).toMatchObject({ kind: 'remove', editId: ids[1], payload: { mode: 'drop', approximate: true, laterLive: [ids[2], ids[3], ids[4]] } });
    expect(() => ledger.removeEdit(modelId, ids[1], 'drop')).toThrow(/not live/);

    // reverting past the dropped edit's successors makes the live set exact again
    ledger.revertTo(modelId, 1);
    expect(ledger.liveApproximate(modelId)).toBe(false);
    // an edit applied after the drop is computed on the new base: still exact
    ledger.recordEdit(modelId, editResult(['e6'], [delta(1, 1, 200)]));
    expect(ledger.liveApproximate(modelId)).toBe(false);
    // dropping the newest edit is exact
    const last = ledger.liveEdits(modelId).at(-1)!.id;
    expect(ledger.removeEdit(modelId, last, 'drop').approximate).toBe(false);
    expect(ledger.liveApproximate(modelId)).toBe(false);
  });

  it('removeEdit replay deactivates the edit and its successors, returns their requests, and replays record replayOf', () => {
    const { ds, ids } = fiveEdits();
    const r = ledger.removeEdit(modelId, ids[2], 'replay', 'wrong target');
    expect(r.deactivated).toEqual([ids[2], ids[3], ids[4]]);
    expect(r.replay.map((x) => [x.editId, x.seq, x.requests[0].caseId])).toEqual([
      [ids[3], 4, 'e4'],
      [ids[4], 5, 'e5'],
    ]);
    expect(ledger.liveEdits(modelId).map((e) => e.seq)).toEqual([1, 2]);
    expect(ledger.pendingReplays(modelId).map((x) => x.editId)).toEqual([ids[3], ids[4]]);
    expect(ledger.liveApproximate(modelId)).toBe(false);

    // the caller re-runs them (new factors, computed without edit 3)
    const re4 = [delta(1, 1, 304)];
    const re5 = [delta(1, 1, 305), delta(2, 2, 306)];
    const a = ledger.recordEdit(modelId, editResult(['e4'], re4), { replayOf: ids[3] });
    expect(ledger.pendingReplays(modelId).map((x) => x.editId)).toEqual([ids[4]]);
    const b = ledger.recordEdit(modelId, editResult(['e5'], re5), { replayOf: ids[4] });
    expect([a.seq, b.seq]).toEqual([6, 7]);
    expect(ledger.pendingReplays(modelId)).toEqual([]);

    const live = [ds[0], ds[1], re4, re5];
    const lf = ledger.liveFactors(modelId);
    const h1 = handConcat(layerParts(live, 1));
    const h2 = handConcat(layerParts(live, 2));
    expect(sameBits(lf.get(1)!.Ut, h1.Ut) && sameBits(lf.get(1)!.Vt, h1.Vt)).toBe(true);
    expect(sameBits(lf.get(2)!.Ut, h2.Ut) && sameBits(lf.get(2)!.Vt, h2.Vt)).toBe(true);

    const h = ledger.history(modelId);
    expect(h.edits.map((e) => [e.seq, e.active, e.replayOf])).toEqual([
      [1, true, null],
      [2, true, null],
      [3, false, null],
      [4, false, null],
      [5, false, null],
      [6, true, ids[3]],
      [7, true, ids[4]],
    ]);
    expect(h.events.map((e) => e.kind)).toEqual(['edit', 'edit', 'edit', 'edit', 'edit', 'remove', 'replay', 'replay']);
    expect(h.events[5].payload).toMatchObject({ mode: 'replay', replay: [ids[3], ids[4]], note: 'wrong target' });
    // replayOf must name a deactivated edit of the same model
    expect(() => ledger.recordEdit(modelId, editResult(['x'], [delta(1, 1, 1)]), { replayOf: ids[0] })).toThrow(/still live/);
    expect(() => ledger.recordEdit(modelId, editResult(['x'], [delta(1, 1, 1)]), { replayOf: 9999 })).toThrow(/no edit/);
    expect(ledger.verifyLiveSet()).toEqual({ missing: [], extra: [] });
    expect(ledger.integrityCheck()).toEqual([]);
  });

  it('keeps models apart', () => {
    const other = ledger.importModel({ path: '/models/llama', arch: 'llama', config: {}, fileHashes: {} }).id;
    const { ids } = fiveEdits();
    const o = ledger.recordEdit(other, editResult(['o'], [delta(1, 1, 9)]));
    expect(o.seq).toBe(1);
    expect(() => ledger.removeEdit(other, ids[0], 'drop')).toThrow(/has no edit/);
    ledger.revertTo(other, 0);
    expect(ledger.liveEdits(modelId)).toHaveLength(5);
    expect(ledger.liveFactors(other).size).toBe(0);
  });
});

describe('norms, health and events', () => {
  it('normSeries gives per layer/tensor points in seq order with the active flag', () => {
    ledger.recordEdit(modelId, editResult(['a'], [delta(1, 1, 1)], 0.5));
    ledger.recordEdit(modelId, editResult(['b'], [delta(1, 1, 2), delta(2, 1, 3)], 1.5));
    ledger.recordEdit(modelId, editResult(['c'], [delta(1, 1, 4)], 2.5));
    ledger.revertTo(modelId, 2);
    const s = ledger.normSeries(modelId);
    expect(s.map((x) => [x.layer, x.tensor])).toEqual([
      [1, 'h.1.mlp.c_proj.weight'],
      [2, 'h.2.mlp.c_proj.weight'],
    ]);
    expect(s[0].points.map((p) => [p.seq, p.l1GrowthPct, p.active])).toEqual([
      [1, 0.5, true],
      [2, 1.5, true],
      [3, 2.5, false],
    ]);
    expect(s[0].points[0]).not.toHaveProperty('layer');
    expect(ledger.normSeries(modelId, { liveOnly: true })[0].points.map((p) => p.seq)).toEqual([1, 2]);
  });

  it('records health runs with a health event, and free events', () => {
    ledger.recordEdit(modelId, editResult(['a'], [delta(1, 1, 1)]));
    const base = ledger.recordHealth(modelId, { taskId: 'sst2', metric: 'accuracy', score: 0.9, n: 50, afterEditSeq: 0, editsApplied: 0 });
    const h = ledger.recordHealth(modelId, { taskId: 'sst2', metric: 'accuracy', score: 0.85, n: 50, baselineScore: 0.9, retentionPct: 94.4, details: { wrong: [3] } });
    expect(h).toMatchObject({ afterEditSeq: 1, editsApplied: 1, baselineScore: 0.9, retentionPct: 94.4, details: { wrong: [3] } });
    ledger.recordHealth(modelId, { taskId: 'rte', metric: 'accuracy', score: NaN, n: 0 });
    expect(ledger.healthSeries(modelId).map((r) => r.id).slice(0, 2)).toEqual([base.id, h.id]);
    expect(ledger.healthSeries(modelId, 'rte')[0].score).toBeNaN();
    expect(ledger.events(modelId, 'health')).toHaveLength(3);

    expect(ledger.guardrailPaused(modelId)).toBe(false);
    ledger.recordEvent(modelId, 'guardrail_pause', { reason: 'sst2 retention 80% < 90%' });
    expect(ledger.guardrailPaused(modelId)).toBe(true);
    const ov = ledger.recordEvent(modelId, 'override', { by: 'user' });
    expect(ov).toMatchObject({ kind: 'override', payload: { by: 'user' } });
    ledger.recordEvent(modelId, 'resume');
    expect(ledger.guardrailPaused(modelId)).toBe(false);
    ledger.recordEvent(modelId, 'export', { file: '/tmp/out.safetensors' }, ledger.liveEdits(modelId)[0].id);
    expect(() => ledger.recordEvent(modelId, 'revert' as never)).toThrow(/change the live set/);
    expect(() => ledger.recordEvent(modelId, 'export', {}, 9999)).toThrow(/has no edit/);
    expect(ledger.history(modelId).events.map((e) => e.kind)).toEqual(['edit', 'health', 'health', 'health', 'guardrail_pause', 'override', 'resume', 'export']);
    expect(ledger.integrityCheck()).toEqual([]);
  });
});

describe('AlphaEdit keys (issue 18)', () => {
  it('are stored bit-exact with the edit, listed for the live set in seq order, dropped from it by a revert, and checked by integrityCheck', () => {
    const r = rng(5);
    const keys = (n: number) => Float64Array.from({ length: n * DFF }, () => r() * 2 - 1);
    const k1 = keys(1);
    const k2 = keys(2);
    const a = ledger.recordEdit(modelId, { ...editResult(['a'], [delta(1, 1, 1)]), method: 'alphaedit', preservedKeys: [{ layer: 1, n: 1, keys: k1 }] });
    const b = ledger.recordEdit(modelId, { ...editResult(['b', 'c'], [delta(1, 2, 2)]), method: 'alphaedit', preservedKeys: [{ layer: 1, n: 2, keys: k2 }] });
    const live = ledger.livePreservedKeys(modelId);
    expect(live.map((x) => [x.editId, x.n])).toEqual([[a.editId, 1], [b.editId, 2]]);
    expect(live[0].keys).toEqual(k1);
    expect(live[1].keys).toEqual(k2);
    ledger.revertTo(modelId, a.seq);
    expect(ledger.livePreservedKeys(modelId).map((x) => x.editId)).toEqual([a.editId]);
    expect(ledger.integrityCheck()).toEqual([]);
    expect(() => ledger.db.prepare('UPDATE edit_keys SET keys = zeroblob(8)').run()).toThrow(/append-only/);
    ledger.db.exec('DROP TRIGGER edit_keys_no_update');
    ledger.db.prepare('UPDATE edit_keys SET keys = ? WHERE edit_id = ?').run(Buffer.from(keys(1).buffer), a.editId);
    expect(ledger.integrityCheck()).toEqual([expect.stringMatching(/AlphaEdit keys of layer 1 no longer match their sha256/)]);
    expect(() => ledger.livePreservedKeys(modelId)).toThrow(/no longer match their sha256/);
  });
});
