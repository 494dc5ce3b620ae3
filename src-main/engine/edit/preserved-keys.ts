// AlphaEdit's preserved keys K_p K_pᵀ (jianghoucheng/AlphaEdit, AlphaEdit/AlphaEdit_main.py `cache_c`,
// `cache_c[i] += layer_ks @ layer_ks.T` after each edit): the running second moment of every key
// edited so far, kept on the model, and its projection onto a layer's null space (`P @ cache_c`).
import type { LoadedModel } from '../runtime/model';
import type { Nullspace } from './solve-cache';

/** One edit's (or batch's) keys at one layer: n rows of d_ff, the increment K Kᵀ of K_p K_pᵀ. */
export interface PreservedKeyBlock {
  layer: number;
  n: number;
  /** [n, d_ff] row-major, float64 (exact: rebuilt sums equal the running sums bit for bit) */
  keys: Float64Array;
}

interface Entry extends PreservedKeyBlock {
  /** the edit's delta list while it is only applied (null when it came from the ledger) */
  tag: object | null;
}

interface Projected {
  layer: number;
  r: number;
  /** Ûᵀ K_p K_pᵀ Û, r × r */
  B: Float64Array;
  /** entries (of this layer, in order) already folded into B */
  folded: number;
}

/**
 * AlphaEdit's K_p K_pᵀ per layer, kept as the list of key blocks that make it up (in edit order) so
 * that taking edits out (revert, remove, an edit that could not be recorded) rebuilds it exactly
 * instead of subtracting in floating point. The projected moment Ûᵀ K_p K_pᵀ Û a solve needs is
 * folded in the same order, incrementally, and recomputed from the blocks when the list changes.
 */
export class PreservedKeys {
  private entries: Entry[] = [];
  private projected = new Map<string, Projected>();

  /**
   * Replaces the whole list (the ledger's live alphaedit edits, in seq order). When the current list
   * is a prefix of the new one (the usual sync after recording an edit) the projected moments are
   * kept and only the new blocks are folded later; any other change recomputes them from the blocks.
   */
  set(blocks: PreservedKeyBlock[]): void {
    const prefix = blocks.length >= this.entries.length && this.entries.every((e, i) => sameBlock(e, blocks[i]));
    if (!prefix) this.projected.clear();
    this.entries = blocks.map((b) => ({ ...b, tag: null }));
  }

  add(tag: object, blocks: PreservedKeyBlock[]): void {
    for (const b of blocks) this.entries.push({ ...b, tag });
  }

  /** Takes out the blocks an applied-but-withdrawn edit added. */
  drop(tag: object): void {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.tag !== tag);
    if (this.entries.length !== before) this.projected.clear();
  }

  blocks(layer?: number): PreservedKeyBlock[] {
    return this.entries.filter((e) => layer === undefined || e.layer === layer).map(({ layer: l, n, keys }) => ({ layer: l, n, keys }));
  }

  /** K_p K_pᵀ of `layer` (F × F), summed in edit order. */
  accumulated(layer: number, F: number): Float64Array {
    const C = new Float64Array(F * F);
    for (const e of this.entries) {
      if (e.layer !== layer) continue;
      for (let j = 0; j < e.n; j++) {
        const k = e.keys.subarray(j * F, j * F + F);
        for (let a = 0; a < F; a++) {
          const ka = k[a];
          if (ka === 0) continue;
          const row = a * F;
          for (let b = 0; b < F; b++) C[row + b] += ka * k[b];
        }
      }
    }
    return C;
  }

  /** Ûᵀ K_p K_pᵀ Û for `layer` (r × r), brought up to date with the blocks added since the last call. */
  projectedMoment(layer: number, ns: Nullspace): Float64Array {
    const id = `${layer}|${ns.key}`;
    let p = this.projected.get(id);
    if (!p) {
      p = { layer, r: ns.rows, B: new Float64Array(ns.rows * ns.rows), folded: 0 };
      this.projected.set(id, p);
    }
    const mine = this.entries.filter((e) => e.layer === layer);
    for (let i = p.folded; i < mine.length; i++) {
      const Y = project(ns, mine[i].keys, mine[i].n);
      addGram(p.B, Y, ns.rows, mine[i].n);
    }
    p.folded = mine.length;
    return p.B;
  }
}

function sameBlock(a: PreservedKeyBlock, b: PreservedKeyBlock): boolean {
  if (a.layer !== b.layer || a.n !== b.n || a.keys.length !== b.keys.length) return false;
  if (a.keys === b.keys) return true;
  for (let i = 0; i < a.keys.length; i++) if (a.keys[i] !== b.keys[i] && !(Number.isNaN(a.keys[i]) && Number.isNaN(b.keys[i]))) return false;
  return true;
}

/** Ûᵀ-side projection Y = Û K of n key rows: [r, n]. */
export function project(ns: Nullspace, keys: Float64Array, n: number): Float64Array {
  const { rows: r, n: F, basis } = ns;
  const Y = new Float64Array(r * n);
  for (let i = 0; i < r; i++) {
    const u = basis.subarray(i * F, i * F + F);
    for (let j = 0; j < n; j++) {
      let s = 0;
      const off = j * F;
      for (let a = 0; a < F; a++) s += u[a] * keys[off + a];
      Y[i * n + j] = s;
    }
  }
  return Y;
}

/** B += Y Yᵀ, Y [r, n]. */
export function addGram(B: Float64Array, Y: Float64Array, r: number, n: number): void {
  for (let i = 0; i < r; i++)
    for (let k = 0; k < r; k++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += Y[i * n + j] * Y[k * n + j];
      B[i * r + k] += s;
    }
}

/** AlphaEdit's K_p K_pᵀ of this model: model state, owned by the model, set from the ledger by whoever syncs the live edits. */
export const preservedKeysOf = (model: LoadedModel): PreservedKeys => model.caches.getOrCreate('alphaedit.preserved', () => new PreservedKeys());
