// Forward graphs: logits (last or all positions), optional KV cache, taps, and low-rank edit inputs.
import type { Checkpoint } from '../checkpoint';
import type { ArchName } from '../architectures';
import { DType, Graph } from '../graph/ir';
import { Gpt2Builder } from './gpt2';
import { LlamaBuilder } from './llama';
import { BlockContext, EditFactorInputs, TransformerBuilder } from './transformer';

/** The graph builder of each architecture in architectures.ts. */
const BUILDERS: Record<ArchName, new (g: Graph, ck: Checkpoint) => TransformerBuilder> = { gpt2: Gpt2Builder, llama: LlamaBuilder };

export function makeBuilder(g: Graph, ck: Checkpoint): TransformerBuilder {
  return new BUILDERS[ck.config.arch](g, ck);
}

export interface ForwardSpec {
  dtype?: 'float32' | 'float64';
  kvCache?: boolean;
  /**
   * 'rows': logits [N, V] at the flat positions `logit_rows` [N] (indices into the B×T grid) — a
   * loss, metric or generation step asks only for the positions it reads, never the whole sequence
   * (LLaMA-3's head is 128256 × 4096); 'last': the last position of every row [B, V]; 'none'.
   */
  logits?: 'last' | 'rows' | 'none';
  /** layers whose MLP down-projection input ("key") is an output `key_<l>` [B,T,d_ff] */
  tapKeys?: number[];
  /** layers whose MLP output is an output `mlp_out_<l>` [B,T,d] */
  tapMlpOut?: number[];
  /** layers whose residual stream after the block is an output `resid_<l>` [B,T,d] */
  tapResid?: number[];
  /** layers whose MLP output projection takes low-rank factors `edit_Vt_<l>` [r,d_ff], `edit_Ut_<l>` [r,d] */
  editLayers?: number[];
  /**
   * layers whose uncentred key second moment over real tokens is an output `kk_<l>` [d_ff,d_ff]
   * (Σ_t m_t k_t k_tᵀ with the input `token_mask` [B,T]); computed in-graph so statistics over a
   * corpus cost one MatMul per batch instead of a JS outer-product loop.
   */
  keyMoments?: number[];
}

export interface ForwardGraph {
  graph: Graph;
  spec: ForwardSpec;
}

export function editInputs(g: Graph, ck: Checkpoint, layers: number[]): Map<number, EditFactorInputs> {
  const m = new Map<number, EditFactorInputs>();
  const { ffn, hidden } = ck.config;
  for (const l of layers) {
    m.set(l, { Vt: g.input(`edit_Vt_${l}`, g.fdt, [`r${l}`, ffn]), Ut: g.input(`edit_Ut_${l}`, g.fdt, [`r${l}`, hidden]) });
  }
  return m;
}

export function buildForward(ck: Checkpoint, spec: ForwardSpec): ForwardGraph {
  const cfg = ck.config;
  const dt: DType = spec.dtype ?? 'float32';
  const g = new Graph(`${cfg.arch}_forward`, dt);
  const b = makeBuilder(g, ck);
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const positions = g.input('position_ids', 'int64', ['B', 'T']);
  const S = spec.kvCache ? 'P+T' : 'T';
  const bias = g.input('attn_bias', dt, ['B', 1, 'T', S]);
  const ctx: BlockContext = { positions, bias };
  if (spec.kvCache) {
    ctx.past = [];
    ctx.present = [];
    for (let l = 0; l < cfg.layers; l++) {
      ctx.past.push({
        k: g.input(`past_key_${l}`, dt, ['B', cfg.kvHeads, 'P', cfg.headDim]),
        v: g.input(`past_value_${l}`, dt, ['B', cfg.kvHeads, 'P', cfg.headDim]),
      });
    }
  }
  if (spec.editLayers?.length) ctx.edits = editInputs(g, ck, spec.editLayers);
  const moments = new Set(spec.keyMoments ?? []);
  const mask = moments.size ? g.input('token_mask', dt, ['B', 'T']) : '';
  const taps = { key: new Set([...(spec.tapKeys ?? []), ...moments]), mlp: new Set(spec.tapMlpOut ?? []), resid: new Set(spec.tapResid ?? []) };
  ctx.onKey = (l, k) => {
    if (moments.has(l)) {
      const flat = g.reshape(g.mul(k, g.unsqueeze(mask, [2])), [-1, cfg.ffn], ['BT', cfg.ffn]);
      g.output(g.matmul(g.transpose(flat, [1, 0]), flat), `kk_${l}`);
    }
    if ((spec.tapKeys ?? []).includes(l)) g.output(k, `key_${l}`);
  };
  ctx.onMlpOut = (l, o) => (taps.mlp.has(l) ? g.output(o, `mlp_out_${l}`) : o);
  ctx.onResid = (l, h) => void (taps.resid.has(l) && g.output(h, `resid_${l}`));
  b.prepare(ctx);
  let h = b.embed(ids, positions);
  const lastLayer = spec.logits === 'none' ? Math.max(-1, ...taps.key, ...taps.mlp, ...taps.resid) : cfg.layers - 1;
  for (let l = 0; l <= lastLayer; l++) h = b.block(l, h, ctx);
  if (spec.logits !== 'none') {
    if (spec.logits === 'rows') {
      const rows = g.input('logit_rows', 'int64', ['N']);
      const flat = g.reshape(h, [-1, cfg.hidden], ['BT', cfg.hidden]);
      g.output(b.lmHead(b.finalNorm(g.gather(flat, rows))), 'logits');
    } else {
      const last = g.gather(h, g.inline(g.fresh('last'), 'int64', [], [-1]), 1);
      g.output(b.lmHead(b.finalNorm(last)), 'logits');
    }
  }
  if (spec.kvCache) {
    ctx.present!.forEach((p, l) => {
      g.output(p.k, `present_key_${l}`);
      g.output(p.v, `present_value_${l}`);
    });
  }
  return { graph: g, spec };
}
