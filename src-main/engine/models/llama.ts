import { LLAMA } from '../architectures';
import { TransformerBuilder, BlockContext } from './transformer';
import { EacError } from '../errors';

/** LLaMA: RMSNorm, rotary positions (rotate-half), SwiGLU MLP, GQA, weights stored [d_out, d_in] (names: architectures.ts). */
export class LlamaBuilder extends TransformerBuilder {
  readonly arch = LLAMA;

  embed(ids: string, _positions: string) {
    return this.w.rows(LLAMA.tensors.embed, ids);
  }
  finalNorm(h: string) {
    return this.rmsNorm(h, LLAMA.tensors.finalNorm, this.cfg.normEps);
  }
  lmHead(h: string) {
    return this.w.head(h, this.cfg.tiedHead ? LLAMA.tensors.embed : LLAMA.tensors.head);
  }
  protected attnNorm(l: number, h: string) {
    return this.rmsNorm(h, LLAMA.layer(l).inputNorm, this.cfg.normEps);
  }
  protected mlpNorm(l: number, h: string) {
    return this.rmsNorm(h, LLAMA.layer(l).postNorm, this.cfg.normEps);
  }
  private proj(x: string, name: string) {
    return this.w.matmulOut(x, name);
  }
  protected qkv(l: number, x: string) {
    const n = LLAMA.layer(l);
    return { q: this.proj(x, n.q), k: this.proj(x, n.k), v: this.proj(x, n.v) };
  }
  protected attnOut(l: number, x: string) {
    return this.proj(x, LLAMA.layer(l).o);
  }
  protected mlpKey(l: number, x: string) {
    const g = this.g;
    if (!LLAMA.activations.includes(this.cfg.activation))
      throw new EacError('unsupported_config', `LLaMA hidden_act ${this.cfg.activation} is not supported (${LLAMA.activations[0]} expected)`);
    const n = LLAMA.layer(l);
    const gate = this.proj(x, n.gate);
    const up = this.proj(x, n.up);
    return g.mul(g.mul(gate, g.op('Sigmoid', [gate])), up);
  }
  protected mlpDownPlain(l: number, key: string) {
    return this.proj(key, LLAMA.layer(l).down);
  }

  prepare(ctx: BlockContext) {
    const g = this.g;
    const dh = this.cfg.headDim;
    const invFreq = Array.from({ length: dh / 2 }, (_, i) => 1 / Math.pow(this.cfg.ropeTheta, (2 * i) / dh));
    // [B,1,T,1] * [dh/2] -> [B,1,T,dh/2]; duplicated halves as in HF rotate_half
    const pos = g.unsqueeze(g.cast(ctx.positions, g.fdt), [1, 3]);
    const f = g.mul(pos, g.constF(invFreq));
    const emb = g.concat([f, f], -1);
    ctx.rope = { cos: g.op('Cos', [emb]), sin: g.op('Sin', [emb]) };
  }

  protected rotate(q: string, k: string, ctx: BlockContext) {
    const g = this.g;
    const half = this.cfg.headDim / 2;
    const { cos, sin } = ctx.rope!;
    const rot = (x: string) => {
      const rh = g.concat([g.neg(g.slice(x, -1, half, 2 * half)), g.slice(x, -1, 0, half)], -1);
      return g.add(g.mul(x, cos), g.mul(rh, sin));
    };
    return { q: rot(q), k: rot(k) };
  }
}
