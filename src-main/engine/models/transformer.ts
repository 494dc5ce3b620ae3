// Decoder-only transformer graphs (GPT-2 and LLaMA) built from plain ONNX ops, so the same
// construction serves inference, taps, float64 checks and autodiff.
import type { Checkpoint, ModelConfig } from '../checkpoint';
import type { Architecture } from '../architectures';
import { Graph } from '../graph/ir';
import { GraphWeights } from './weights';

export interface EditFactorInputs {
  /** [r, d_in] */
  Vt: string;
  /** [r, d_out] */
  Ut: string;
}

export interface BlockContext {
  /** [B,T] int64 absolute positions */
  positions: string;
  /** [B,1,T,S] additive attention bias (0 or -1e9), S = past + T */
  bias: string;
  /** per layer past K/V [B,kvH,P,dh] */
  past?: { k: string; v: string }[];
  /** filled with present K/V when past is given */
  present?: { k: string; v: string }[];
  edits?: Map<number, EditFactorInputs>;
  /** called with the MLP down-projection input; may record it */
  onKey?: (layer: number, key: string) => void;
  /** called with the MLP output; returns the value to add to the residual (lets callers inject z) */
  onMlpOut?: (layer: number, out: string) => string;
  /** called with the residual stream after the layer */
  onResid?: (layer: number, h: string) => void;
  rope?: { cos: string; sin: string };
}

export abstract class TransformerBuilder {
  readonly w: GraphWeights;
  readonly cfg: ModelConfig;
  constructor(
    readonly g: Graph,
    ck: Checkpoint,
  ) {
    this.w = new GraphWeights(g, ck);
    this.cfg = ck.config;
  }

  abstract embed(ids: string, positions: string): string;
  abstract finalNorm(h: string): string;
  /** logits [N, V] of hidden states [N, d] (callers gather the positions they need first) */
  abstract lmHead(h: string): string;
  protected abstract attnNorm(l: number, h: string): string;
  protected abstract mlpNorm(l: number, h: string): string;
  protected abstract qkv(l: number, x: string): { q: string; k: string; v: string };
  protected abstract attnOut(l: number, x: string): string;
  protected abstract mlpKey(l: number, x: string): string;
  protected abstract mlpDownPlain(l: number, key: string): string;
  prepare(_ctx: BlockContext): void {}
  protected rotate(q: string, k: string, _ctx: BlockContext): { q: string; k: string } {
    return { q, k };
  }

  /** The architecture's entry in architectures.ts (tensor names, layouts). */
  abstract readonly arch: Architecture;

  mlpDown(l: number, key: string, ctx: BlockContext): string {
    let out = this.mlpDownPlain(l, key);
    const e = ctx.edits?.get(l);
    if (e) out = this.g.add(out, this.g.matmul(this.g.matmul2d(key, e.Vt, true), e.Ut));
    return out;
  }

  block(l: number, h: string, ctx: BlockContext): string {
    const g = this.g;
    const { heads, kvHeads, headDim, hidden } = this.cfg;
    const x = this.attnNorm(l, h);
    const proj = this.qkv(l, x);
    // [B,T,n*dh] -> [B,n,T,dh]
    const split = (t: string, n: number) =>
      g.transpose(g.reshape(t, [0, 0, n, headDim], ['B', 'T', n, headDim]), [0, 2, 1, 3]);
    let q = split(proj.q, heads);
    let k = split(proj.k, kvHeads);
    const v0 = split(proj.v, kvHeads);
    ({ q, k } = this.rotate(q, k, ctx));
    let v = v0;
    if (ctx.past) {
      k = g.concat([ctx.past[l].k, k], 2);
      v = g.concat([ctx.past[l].v, v], 2);
      ctx.present![l] = { k, v };
    }
    const scale = g.constF(1 / Math.sqrt(headDim));
    let att: string;
    if (kvHeads === heads) {
      const s = g.add(g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), scale), ctx.bias);
      att = g.matmul(g.softmax(s, -1), v);
    } else {
      // grouped-query attention without copying K/V: q heads h = kv*rep + r share kv head `kv`
      const rep = heads / kvHeads;
      const qg = g.reshape(q, [0, kvHeads, rep, -1, headDim], ['B', kvHeads, rep, 'T', headDim]);
      const kg = g.unsqueeze(k, [2]);
      const vg = g.unsqueeze(v, [2]);
      const s = g.add(g.mul(g.matmul(qg, g.transpose(kg, [0, 1, 2, 4, 3])), scale), g.unsqueeze(ctx.bias, [2]));
      const o = g.matmul(g.softmax(s, -1), vg);
      att = g.reshape(o, [0, heads, -1, headDim], ['B', heads, 'T', headDim]);
    }
    const merged = g.reshape(g.transpose(att, [0, 2, 1, 3]), [0, 0, heads * headDim], ['B', 'T', heads * headDim]);
    void hidden;
    const hMid = g.add(h, this.attnOut(l, merged));
    const key = this.mlpKey(l, this.mlpNorm(l, hMid));
    ctx.onKey?.(l, key);
    let out = this.mlpDown(l, key, ctx);
    if (ctx.onMlpOut) out = ctx.onMlpOut(l, out);
    const hOut = g.add(hMid, out);
    ctx.onResid?.(l, hOut);
    return hOut;
  }

  layerNorm(x: string, weight: string, bias: string | null, eps: number): string {
    const g = this.g;
    const mean = g.reduce('ReduceMean', x, [-1]);
    const xc = g.sub(x, mean);
    const variance = g.reduce('ReduceMean', g.mul(xc, xc), [-1]);
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.add(variance, g.constF(eps))])]);
    const y = g.mul(g.mul(xc, inv), this.w.get(weight));
    return bias ? g.add(y, this.w.get(bias)) : y;
  }

  rmsNorm(x: string, weight: string, eps: number): string {
    const g = this.g;
    const ms = g.reduce('ReduceMean', g.mul(x, x), [-1]);
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.add(ms, g.constF(eps))])]);
    return g.mul(g.mul(x, inv), this.w.get(weight));
  }
}
