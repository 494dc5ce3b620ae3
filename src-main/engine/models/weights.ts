// Weights enter graphs as external-data initializers pointing into the user's safetensors files, in
// their file dtype. Anything computed from them (a cast to the compute dtype, a slice of the vocab
// head) is a run-time node: sessions never fold it into a stored copy (runtime/session.ts), so the
// mapped file is the only copy in the process and the f32 temporaries of one layer live for one
// matmul. No weight is ever transposed: matmuls use Gemm with transB on the stored layout.
import { Checkpoint, StDType, tensorEntry } from '../checkpoint';
import { DType, Graph } from '../graph/ir';
import { EacError } from '../errors';

const ST_TO_DTYPE: Partial<Record<StDType, DType>> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
};

/**
 * Largest f32 temporary (bytes) a cast of one weight may make at once: vocab-sized matrices (LLaMA-3's
 * head is 128256 × 4096, 2 GiB in f32) are cast and multiplied in row blocks of about this size.
 */
export const CAST_BLOCK_BYTES = 128 * 1024 ** 2;

/**
 * Weights larger than this (file bytes) are only ever used through row blocks of at most
 * CAST_BLOCK_BYTES of f32 (the embedding's gather and the head's matmul), never whole: on a GPU each
 * block is a device buffer of its own, so no single buffer approaches a provider's limit, and the
 * upload of one block (host staging + driver staging + device copy) stays small — uploading
 * LLaMA-3's 1 GiB embedding whole peaked at 4× its size on lavapipe. On the CPU a block is a byte
 * range of the mapped file, so splitting copies nothing there either.
 */
export const SPLIT_WEIGHT_BYTES = 256 * 1024 ** 2;

export class GraphWeights {
  private cache = new Map<string, string>();
  constructor(
    readonly g: Graph,
    readonly ck: Checkpoint,
  ) {}

  /** The initializer of `name` in its file dtype. */
  raw(name: string): string {
    const key = `raw:${name}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const e = tensorEntry(this.ck, name);
    const dtype = ST_TO_DTYPE[e.dtype];
    if (!dtype) throw new EacError('bad_dtype', `tensor ${name} has dtype ${e.dtype}; only float weights are supported`);
    const v = this.g.external(`w:${name}`, {
      dtype,
      dims: e.shape,
      location: e.file,
      offset: e.offset,
      length: e.byteLength,
    });
    this.cache.set(key, v);
    return v;
  }

  /** Whether the weight is stored in the compute dtype (no cast needed). */
  native(name: string): boolean {
    return this.g.dtype(this.raw(name)) === this.g.fdt;
  }

  /**
   * A matrix initializer in the compute dtype for a use whose other operand is `anchor`: the
   * initializer itself when stored in the compute dtype, else a run-time cast made just before the
   * use (Graph.after) and registered as a weight view, so backward passes re-cast it where they need
   * it rather than keep this copy alive.
   */
  private view(init: string, anchor: string): string {
    const g = this.g;
    if (g.dtype(init) === g.fdt) return init;
    const make = (a: string) => g.cast(g.after(init, a), g.fdt);
    const v = make(anchor);
    g.weightViews.set(v, make);
    return v;
  }

  /** A small weight (norm scale, bias) in the compute dtype (a run-time cast unless stored in it). */
  get(name: string): string {
    const hit = this.cache.get(name);
    if (hit) return hit;
    const v = this.g.cast(this.raw(name), this.g.fdt);
    this.cache.set(name, v);
    return v;
  }

  /** Rows `ids` of an embedding matrix: gathered in the file dtype, then cast (never the whole matrix). */
  rows(name: string, ids: string): string {
    const g = this.g;
    const blocks = this.blocks(name);
    if (!blocks) return g.cast(g.gather(this.raw(name), ids), g.fdt);
    // Σ over blocks of where(r0 <= id < r1, block[id - r0], 0): each id lands in exactly one block;
    // ids outside a block gather its row 0 and are masked out
    const rank = g.shape(ids).length;
    const zero = g.constF(0);
    let sum = '';
    for (const [r0, r1] of blocks) {
      const below = g.op('Less', [ids, g.constI([r0])]);
      const inRange = g.op('Less', [ids, g.constI([r1])]);
      const local = g.op('Where', [below, g.constI([0]), g.op('Where', [inRange, g.sub(ids, g.constI([r0])), g.constI([0])])]);
      const picked = g.cast(g.gather(this.rowBlock(name, r0, r1), local), g.fdt);
      const part = g.op('Where', [g.unsqueeze(below, [rank]), zero, g.op('Where', [g.unsqueeze(inRange, [rank]), picked, zero])]);
      sum = sum ? g.add(sum, part) : part;
    }
    return sum;
  }

  /**
   * Row ranges of a vocab-sized weight used in blocks, or null for one used whole: blocks above
   * SPLIT_WEIGHT_BYTES, and wherever a cast to the compute dtype would exceed CAST_BLOCK_BYTES. The
   * embedding's gather and the head use the same blocks, so a tied matrix is one set of initializers
   * (one device copy).
   */
  private blocks(name: string): [number, number][] | null {
    const e = tensorEntry(this.ck, name);
    if (e.shape.length !== 2) return null;
    const [V, d] = e.shape;
    const per = Math.max(1, Math.floor(CAST_BLOCK_BYTES / (d * (this.g.fdt === 'float64' ? 8 : 4))));
    if (e.byteLength <= SPLIT_WEIGHT_BYTES && (this.native(name) || per >= V)) return null;
    const out: [number, number][] = [];
    for (let r0 = 0; r0 < V; r0 += per) out.push([r0, Math.min(V, r0 + per)]);
    return out;
  }

  /** x [..., d_in] · W for W stored [d_in, d_out] (GPT-2 Conv1D). */
  matmulIn(x: string, name: string): string {
    return this.g.matmul(x, this.view(this.raw(name), x));
  }

  /** x [..., d_in] · Wᵀ for W stored [d_out, d_in] (nn.Linear): Gemm with transB, no transposed copy. */
  matmulOut(x: string, name: string): string {
    return this.g.matmul2d(x, this.view(this.raw(name), x), true);
  }

  /**
   * x [N, d] · Wᵀ for a vocab-sized W stored [V, d]. A weight above SPLIT_WEIGHT_BYTES is multiplied
   * in row blocks of at most CAST_BLOCK_BYTES of f32 (cast per block when not in the compute dtype, so
   * the cast never holds the whole matrix); a smaller one whole.
   */
  head(x: string, name: string): string {
    const g = this.g;
    const blocks = this.blocks(name);
    if (!blocks) return this.native(name) ? g.gemm(x, this.raw(name), false, true) : g.gemm(x, this.view(this.raw(name), x), false, true);
    const parts = blocks.map(([r0, r1]) => {
      const b = this.rowBlock(name, r0, r1);
      return g.gemm(x, this.native(name) ? b : this.view(b, x), false, true);
    });
    return g.concat(parts, 1);
  }

  /**
   * Rows r0..r1 of a 2-D weight as an initializer of their own, pointing at that byte range of the
   * file: a block of the mapped weight without a Slice (which would copy it, and which onnxruntime
   * fuses with its siblings into one Split holding every block at once).
   */
  rowBlock(name: string, r0: number, r1: number): string {
    const key = `block:${name}:${r0}:${r1}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const e = tensorEntry(this.ck, name);
    const dtype = ST_TO_DTYPE[e.dtype]!;
    const rowBytes = e.byteLength / e.shape[0];
    const v = this.g.external(`w:${name}[${r0}:${r1}]`, {
      dtype,
      dims: [r1 - r0, ...e.shape.slice(1)],
      location: e.file,
      offset: e.offset + r0 * rowBytes,
      length: (r1 - r0) * rowBytes,
    });
    this.cache.set(key, v);
    return v;
  }
}
