import { TransformerBuilder } from './transformer';

/** GPT-2: learned positions, pre-LayerNorm blocks, Conv1D weights stored [d_in, d_out], tanh-GELU. */
export class Gpt2Builder extends TransformerBuilder {
  readonly downProjInputMajor = true;
  downProjName(l: number) {
    return `h.${l}.mlp.c_proj.weight`;
  }

  embed(ids: string, positions: string) {
    const g = this.g;
    return g.add(this.w.rows('wte.weight', ids), this.w.rows('wpe.weight', positions));
  }
  finalNorm(h: string) {
    return this.layerNorm(h, 'ln_f.weight', 'ln_f.bias', this.cfg.normEps);
  }
  lmHead(h: string) {
    return this.w.head(h, this.cfg.tiedHead ? 'wte.weight' : 'lm_head.weight');
  }
  protected attnNorm(l: number, h: string) {
    return this.layerNorm(h, `h.${l}.ln_1.weight`, `h.${l}.ln_1.bias`, this.cfg.normEps);
  }
  protected mlpNorm(l: number, h: string) {
    return this.layerNorm(h, `h.${l}.ln_2.weight`, `h.${l}.ln_2.bias`, this.cfg.normEps);
  }
  private linear(x: string, prefix: string) {
    return this.g.add(this.w.matmulIn(x, `${prefix}.weight`), this.w.get(`${prefix}.bias`));
  }
  protected qkv(l: number, x: string) {
    const g = this.g;
    const d = this.cfg.hidden;
    const all = this.linear(x, `h.${l}.attn.c_attn`);
    return { q: g.slice(all, -1, 0, d), k: g.slice(all, -1, d, 2 * d), v: g.slice(all, -1, 2 * d, 3 * d) };
  }
  protected attnOut(l: number, x: string) {
    return this.linear(x, `h.${l}.attn.c_proj`);
  }
  protected mlpKey(l: number, x: string) {
    const g = this.g;
    const u = this.linear(x, `h.${l}.mlp.c_fc`);
    if (!['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(this.cfg.activation))
      throw new Error(`GPT-2 activation ${this.cfg.activation} is not supported (gelu_new expected)`);
    // gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const x3 = g.mul(g.mul(u, u), u);
    const inner = g.mul(g.add(u, g.mul(x3, g.constF(0.044715))), g.constF(Math.sqrt(2 / Math.PI)));
    return g.mul(g.mul(u, g.constF(0.5)), g.add(g.constF(1), g.op('Tanh', [inner])));
  }
  protected mlpDownPlain(l: number, key: string) {
    return this.linear(key, `h.${l}.mlp.c_proj`);
  }
}
