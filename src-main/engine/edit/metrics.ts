// EasyEdit-style edit metrics (teacher-forced token accuracy) and per-matrix norm snapshots.
import fs from 'node:fs';
import path from 'node:path';
import { bytesToF32, CheckpointError, DTYPE_BYTES, tensorEntry } from '../checkpoint';
import type { EditRequest } from '../facts/types';
import type { LoadedModel } from '../runtime/model';
import { argmax } from '../runtime/model';
import { targetTokenIds } from './prompts';
import type { LayerDelta, NormSnapshot, RequestMetrics } from './types';

export interface TeacherForced {
  pred: number[];
  gold: number[];
}

/** Predicted vs gold target tokens when the target is fed after the prompt. */
export async function teacherForced(model: LoadedModel, items: { prompt: string; target: string }[], chunk = 16): Promise<TeacherForced[]> {
  const out: TeacherForced[] = [];
  const V = model.cfg.vocabSize;
  for (let s = 0; s < items.length; s += chunk) {
    const part = items.slice(s, s + chunk);
    const rows = part.map((it) => {
      const p = model.encode(it.prompt);
      const t = targetTokenIds(model, it.prompt, it.target);
      return { p, t, ids: [...p, ...t.slice(0, -1)] };
    });
    // logits only at the positions predicting target tokens (never the whole sequence)
    const { logits } = await model.logitsAt(
      rows.map((r) => r.ids),
      (batch) => rows.flatMap((r, b) => r.t.map((_, j) => b * batch.T + batch.T - r.ids.length + r.p.length - 1 + j)),
    );
    let k = 0;
    for (const r of rows) {
      const pred = r.t.map(() => {
        const at = k++;
        return argmax(logits.subarray(at * V, (at + 1) * V));
      });
      out.push({ pred, gold: r.t });
    }
  }
  return out;
}

const acc = (x: TeacherForced) => x.pred.filter((p, i) => p === x.gold[i]).length / x.gold.length;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Locality predictions before an edit, to compare with after it. */
export async function localityPredictions(model: LoadedModel, req: EditRequest): Promise<number[][]> {
  return (await teacherForced(model, req.locality.map((l) => ({ prompt: l.prompt, target: l.target })))).map((x) => x.pred);
}

export async function requestMetrics(model: LoadedModel, req: EditRequest, preLocality: number[][] | null): Promise<RequestMetrics> {
  const plain = req.prompt.replace('{}', req.subject);
  const items = [{ prompt: plain, target: req.targetNew }, ...req.rephrase.map((p) => ({ prompt: p, target: req.targetNew }))];
  const tf = await teacherForced(model, items);
  let locality: number | null = null;
  if (req.locality.length) {
    const post = await localityPredictions(model, req);
    if (preLocality) {
      // EasyEdit: share of locality target tokens whose prediction is unchanged by the edit
      const per = post.map((p, i) => p.filter((t, j) => t === preLocality[i][j]).length / p.length);
      locality = mean(per);
    } else {
      // before any edit: how well the model predicts the neighbourhood answers
      const gold = await teacherForced(model, req.locality.map((l) => ({ prompt: l.prompt, target: l.target })));
      locality = mean(gold.map(acc));
    }
  }
  return { caseId: req.caseId, reliability: acc(tf[0]), generalization: mean(tf.slice(1).map(acc)), locality };
}

/** Rows r0..r0+n of a 2-D tensor in the checkpoint as float32 (read from the file, nothing cached). */
function readRowsF32(model: LoadedModel, tensor: string, r0: number, n: number): Float32Array {
  const e = tensorEntry(model.ck, tensor);
  const rowBytes = e.shape[1] * DTYPE_BYTES[e.dtype];
  const buf = Buffer.alloc(n * rowBytes);
  const file = path.join(model.ck.dir, e.file);
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0;
    while (done < buf.length) {
      const got = fs.readSync(fd, buf, done, buf.length - done, e.offset + r0 * rowBytes + done);
      if (got === 0) throw new CheckpointError('file_truncated', `${file}: ended inside tensor "${tensor}"`);
      done += got;
    }
  } finally {
    fs.closeSync(fd);
  }
  return bytesToF32(buf, e.dtype);
}

/**
 * Rows r0..r0+n of ΔW = Σ Utᵀ Vt (math layout d × d_ff) in the weight's stored layout: math rows
 * for [d, d_ff] weights, math columns for input-major [d_ff, d] ones (GPT-2). Terms are added per
 * delta and factor row in order, as a dense accumulation would, and zero factor entries are skipped
 * (FT's Ut = I costs d_ff per row of factors, not d · d_ff).
 */
function deltaRows(deltas: readonly LayerDelta[], d: number, ffn: number, inputMajor: boolean, r0: number, n: number): Float64Array {
  const cols = inputMajor ? d : ffn;
  const out = new Float64Array(n * cols);
  for (const x of deltas)
    for (let k = 0; k < x.rank; k++) {
      const U = x.Ut.subarray(k * d, (k + 1) * d);
      const V = x.Vt.subarray(k * ffn, (k + 1) * ffn);
      if (!inputMajor) {
        for (let r = 0; r < n; r++) {
          const u = U[r0 + r];
          if (u === 0) continue;
          const row = r * ffn;
          for (let j = 0; j < ffn; j++) out[row + j] += u * V[j];
        }
      } else {
        const nz: number[] = [];
        for (let i = 0; i < d; i++) if (U[i] !== 0) nz.push(i);
        for (let r = 0; r < n; r++) {
          const v = V[r0 + r];
          if (v === 0) continue;
          const row = r * d;
          for (const i of nz) out[row + i] += U[i] * v;
        }
      }
    }
  return out;
}

function frob(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/** Bytes of float64 work space per block of rows in normSnapshots. */
const NORM_BLOCK_BYTES = 16 * 1024 ** 2;

/**
 * Norms of every matrix this edit touched: the live matrix (W0 + the ΔW of `liveDeltas(layer)`, all
 * live deltas of that layer including this edit's) and this edit's own ΔW. Streams W0 from the file
 * and ΔW from the factors in blocks of rows: no dense d × d_ff copy is kept (LLaMA-3-8B: 470 MB
 * per matrix in float64).
 */
export function normSnapshots(model: LoadedModel, inputMajor: boolean, liveDeltas: (layer: number) => readonly LayerDelta[], edit: LayerDelta[]): NormSnapshot[] {
  const { hidden: d, ffn } = model.cfg;
  const layers = [...new Set(edit.map((x) => x.layer))];
  return layers.map((layer) => {
    const mine = edit.filter((x) => x.layer === layer);
    const live = liveDeltas(layer);
    const tensor = mine[0].tensor;
    const rowsTotal = inputMajor ? ffn : d;
    const cols = inputMajor ? d : ffn;
    const per = Math.max(1, Math.floor(NORM_BLOCK_BYTES / (cols * 8)));
    let l1 = 0;
    let l1Base = 0;
    let maxAbs = 0;
    let fro2 = 0;
    let deltaL1 = 0;
    let base2 = 0;
    let total2 = 0;
    let own2 = 0;
    for (let r0 = 0; r0 < rowsTotal; r0 += per) {
      const n = Math.min(per, rowsTotal - r0);
      const w0 = readRowsF32(model, tensor, r0, n);
      const total = deltaRows(live, d, ffn, inputMajor, r0, n);
      const own = deltaRows(mine, d, ffn, inputMajor, r0, n);
      for (let k = 0; k < w0.length; k++) {
        const b = w0[k];
        const w = b + total[k];
        l1 += Math.abs(w);
        l1Base += Math.abs(b);
        maxAbs = Math.max(maxAbs, Math.abs(w));
        fro2 += w * w;
        base2 += b * b;
        total2 += total[k] * total[k];
        own2 += own[k] * own[k];
        deltaL1 += Math.abs(own[k]);
      }
    }
    return {
      layer,
      tensor,
      l1,
      l1Base,
      l1GrowthPct: ((l1 - l1Base) / l1Base) * 100,
      fro: Math.sqrt(fro2),
      maxAbs,
      relChange: Math.sqrt(total2) / Math.sqrt(base2),
      deltaFro: Math.sqrt(own2),
      deltaL1,
      factorNormU: Math.sqrt(mine.reduce((a, x) => a + frob(x.Ut) ** 2, 0)),
      factorNormV: Math.sqrt(mine.reduce((a, x) => a + frob(x.Vt) ** 2, 0)),
    };
  });
}
