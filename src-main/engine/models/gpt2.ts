import { GPT2 } from '../architectures';
import { TransformerBuilder } from './transformer';
import { EacError } from '../errors';

/** GPT-2: learned positions, pre-LayerNorm blocks, Conv1D weights stored [d_in, d_out], tanh-GELU (names: architectures.ts). */
export class Gpt2Builder extends TransformerBuilder {
  readonly arch = GPT2;

  embed(ids: string, positions: string) {
    const g = this.g;
    return g.add(this.w.rows(GPT2.tensors.embed, ids), this.w.rows(GPT2.tensors.positions!, positions));
  }
  finalNorm(h: string) {
    return this.layerNorm(h, GPT2.tensors.finalNorm, GPT2.tensors.finalNormBias!, this.cfg.normEps);
  }
  lmHead(h: string) {
    return this.w.head(h, this.cfg.tiedHead ? GPT2.tensors.embed : GPT2.tensors.head);
  }
  protected attnNorm(l: number, h: string) {
    const n = GPT2.layer(l);
    return this.layerNorm(h, n.ln1, n.ln1Bias, this.cfg.normEps);
  }
  protected mlpNorm(l: number, h: string) {
    const n = GPT2.layer(l);
    return this.layerNorm(h, n.ln2, n.ln2Bias, this.cfg.normEps);
  }
  private linear(x: string, weight: string, bias: string) {
    return this.g.add(this.w.matmulIn(x, weight), this.w.get(bias));
  }
  protected qkv(l: number, x: string) {
    const g = this.g;
    const d = this.cfg.hidden;
    const n = GPT2.layer(l);
    const all = this.linear(x, n.qkv, n.qkvBias);
    return { q: g.slice(all, -1, 0, d), k: g.slice(all, -1, d, 2 * d), v: g.slice(all, -1, 2 * d, 3 * d) };
  }
  protected attnOut(l: number, x: string) {
    const n = GPT2.layer(l);
    return this.linear(x, n.attnOut, n.attnOutBias);
  }
  protected mlpKey(l: number, x: string) {
    const g = this.g;
    const n = GPT2.layer(l);
    const u = this.linear(x, n.mlpIn, n.mlpInBias);
    if (!GPT2.activations.includes(this.cfg.activation))
      throw new EacError('unsupported_config', `GPT-2 activation ${this.cfg.activation} is not supported (${GPT2.activations[0]} expected)`);
    // gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const x3 = g.mul(g.mul(u, u), u);
    const inner = g.mul(g.add(u, g.mul(x3, g.constF(0.044715))), g.constF(Math.sqrt(2 / Math.PI)));
    return g.mul(g.mul(u, g.constF(0.5)), g.add(g.constF(1), g.op('Tanh', [inner])));
  }
  protected mlpDownPlain(l: number, key: string) {
    const n = GPT2.layer(l);
    return this.linear(key, n.mlpDown, n.mlpDownBias);
  }
}
