import { TransformerBuilder, BlockContext } from './transformer';

/** LLaMA: RMSNorm, rotary positions (rotate-half), SwiGLU MLP, GQA, weights stored [d_out, d_in]. */
export class LlamaBuilder extends TransformerBuilder {
  readonly downProjInputMajor = false;
  downProjName(l: number) {
    return `model.layers.${l}.mlp.down_proj.weight`;
  }

  embed(ids: string, _positions: string) {
    return this.w.rows('model.embed_tokens.weight', ids);
  }
  finalNorm(h: string) {
    return this.rmsNorm(h, 'model.norm.weight', this.cfg.normEps);
  }
  lmHead(h: string) {
    return this.w.head(h, this.cfg.tiedHead ? 'model.embed_tokens.weight' : 'lm_head.weight');
  }
  protected attnNorm(l: number, h: string) {
    return this.rmsNorm(h, `model.layers.${l}.input_layernorm.weight`, this.cfg.normEps);
  }
  protected mlpNorm(l: number, h: string) {
    return this.rmsNorm(h, `model.layers.${l}.post_attention_layernorm.weight`, this.cfg.normEps);
  }
  private proj(x: string, name: string) {
    return this.w.matmulOut(x, name);
  }
  protected qkv(l: number, x: string) {
    const p = `model.layers.${l}.self_attn`;
    return { q: this.proj(x, `${p}.q_proj.weight`), k: this.proj(x, `${p}.k_proj.weight`), v: this.proj(x, `${p}.v_proj.weight`) };
  }
  protected attnOut(l: number, x: string) {
    return this.proj(x, `model.layers.${l}.self_attn.o_proj.weight`);
  }
  protected mlpKey(l: number, x: string) {
    const g = this.g;
    if (this.cfg.activation !== 'silu') throw new Error(`LLaMA hidden_act ${this.cfg.activation} is not supported (silu expected)`);
    const gate = this.proj(x, `model.layers.${l}.mlp.gate_proj.weight`);
    const up = this.proj(x, `model.layers.${l}.mlp.up_proj.weight`);
    return g.mul(g.mul(gate, g.op('Sigmoid', [gate])), up);
  }
  protected mlpDownPlain(l: number, key: string) {
    return this.proj(key, this.downProjName(l));
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
