// Bit-exact float32 <-> BLOB codec and row concatenation of low-rank factors.
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import type { LayerFactors } from '../engine/runtime/model';
import type { FactorShape } from './types';
import { EacError } from '../engine/errors';

if (endianness() !== 'LE') throw new EacError('open_failed', 'the edit ledger stores little-endian float32 factors; big-endian hosts are not supported');

/** The exact bytes of a Float32Array (a view, no copy; SQLite copies on bind). */
export function encodeF32(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A fresh, aligned Float32Array holding exactly the stored bytes (NaN payloads, -0 and subnormals kept). */
export function decodeF32(b: Uint8Array, expectLength?: number): Float32Array {
  if (b.byteLength % 4 !== 0) throw new EacError('factor_corrupt', `factor blob of ${b.byteLength} bytes is not a whole number of float32`);
  if (expectLength !== undefined && b.byteLength !== expectLength * 4)
    throw new EacError('factor_corrupt', `factor blob has ${b.byteLength / 4} floats, expected ${expectLength}`);
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** Dimensions implied by one factor pair; throws when Ut/Vt do not match the rank. */
export function factorDims(f: LayerFactors, what = 'factors'): { d: number; dFf: number } | null {
  if (!Number.isInteger(f.rank) || f.rank < 0) throw new EacError('factor_corrupt', `${what}: rank ${f.rank} is not a non-negative integer`);
  if (f.rank === 0) {
    if (f.Ut.length || f.Vt.length) throw new EacError('factor_corrupt', `${what}: rank 0 with non-empty factors`);
    return null;
  }
  if (f.Ut.length % f.rank || f.Vt.length % f.rank || !f.Ut.length || !f.Vt.length)
    throw new EacError('factor_corrupt', `${what}: Ut has ${f.Ut.length} and Vt ${f.Vt.length} values, not multiples of rank ${f.rank}`);
  return { d: f.Ut.length / f.rank, dFf: f.Vt.length / f.rank };
}

/** Stack factor rows in the given order: rank = Σ ranks, Ut/Vt rows concatenated. */
export function concatFactors(parts: readonly LayerFactors[]): LayerFactors {
  let rank = 0;
  let dims: { d: number; dFf: number } | null = null;
  parts.forEach((p, i) => {
    const pd = factorDims(p, `part ${i}`);
    if (!pd) return;
    if (dims && (dims.d !== pd.d || dims.dFf !== pd.dFf))
      throw new EacError('factor_corrupt', `part ${i}: factors are [${pd.d}, ${pd.dFf}], earlier parts [${dims.d}, ${dims.dFf}]`);
    dims = pd;
    rank += p.rank;
  });
  const d = dims as { d: number; dFf: number } | null;
  const Ut = new Float32Array(d ? rank * d.d : 0);
  const Vt = new Float32Array(d ? rank * d.dFf : 0);
  let u = 0;
  let v = 0;
  for (const p of parts) {
    // copy the bytes, not the values, so NaN payloads survive
    new Uint8Array(Ut.buffer, u * 4, p.Ut.byteLength).set(new Uint8Array(p.Ut.buffer, p.Ut.byteOffset, p.Ut.byteLength));
    new Uint8Array(Vt.buffer, v * 4, p.Vt.byteLength).set(new Uint8Array(p.Vt.buffer, p.Vt.byteOffset, p.Vt.byteLength));
    u += p.Ut.length;
    v += p.Vt.length;
  }
  return { rank, Ut, Vt };
}

/**
 * The checksum stored with every factor row (edit_factors.sha256): sha256 of the ut bytes followed by the vt bytes,
 * lowercase hex. The lengths are fixed by rank × d_out / d_in (CHECK constraints), so the concatenation is unambiguous.
 */
export function factorSha256(ut: Uint8Array, vt: Uint8Array): string {
  return createHash('sha256').update(ut).update(vt).digest('hex');
}

/** What a factor row belongs to: the edit, its place in it, the layer and tensor it changes, and its shape. */
export interface FactorBinding extends FactorShape {
  editId: number;
}

/**
 * The bound checksum of a factor row (edit_factors.bound_sha256, 004_factor_binding): sha256 of a length-prefixed
 * header naming what the bytes belong to (edit id, delta index, layer, tensor, rank, shape, dtype float32 LE), then
 * the ut and vt bytes. factorSha256 covers the bytes only, so a row moved to another layer or edit in SQL still
 * verified and was applied there; with the binding such a row no longer matches.
 */
export function boundFactorSha256(b: FactorBinding, ut: Uint8Array, vt: Uint8Array): string {
  const head = Buffer.from(JSON.stringify(['eac-factor-v2', b.editId, b.ord, b.layer, b.tensor, b.rank, b.dOut, b.dIn, 'f32le']), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.byteLength, 0);
  return createHash('sha256').update(len).update(head).update(ut).update(vt).digest('hex');
}
