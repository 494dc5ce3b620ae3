// The editing loss as a graph over the layers above the edit layer (DESIGN §2.3): the residual
// stream after layer l is an input (computed once per edit by a tap run), a perturbation is added
// to it, and the gradient of NLL(target) + kl_factor·KL flows back to the
// perturbation only. Two perturbations: a vector z at chosen positions (ROME/MEMIT v*) or a dense
// weight change dW of layer l's MLP output projection applied to the layer's keys (FT).
import type { Checkpoint } from '../checkpoint';
import { gradients } from '../graph/autodiff';
import { DType, Graph } from '../graph/ir';
import { editInputs, makeBuilder } from '../models/forward';
import type { BlockContext } from '../models/transformer';

export type Perturbation = 'z' | 'dW';

export interface LossGraphSpec {
  layer: number;
  perturbation: Perturbation;
  dtype?: 'float32' | 'float64';
}

/**
 * Σ over rows and vocabulary of rev·KL(edited ‖ original) + (1 − rev)·KL(original ‖ edited), from
 * log-probabilities `logp` (edited, [K,V]) and `ref` (original, [K,V]). ROME's compute_v takes
 * `kl_div(kl_distr_init, kl_log_probs, log_target=True)` = Σ p_edited (log p_edited − log p_orig),
 * i.e. rev = 1. Both directions live in one graph, picked by a scalar feed, so one loss session per
 * layer serves either profile setting (each extra term is one K×V row, negligible).
 */
export function klTerm(g: Graph, logp: string, ref: string, rev: string): string {
  const editedOriginal = g.mul(g.op('Exp', [logp]), g.sub(logp, ref));
  const originalEdited = g.mul(g.op('Exp', [ref]), g.sub(ref, logp));
  const mixed = g.add(g.mul(editedOriginal, rev), g.mul(originalEdited, g.sub(g.constF(1), rev)));
  return g.reduce('ReduceSum', mixed, [0, 1], false);
}

/**
 * Inputs: resid [N,T,D], position_ids [N,T], attn_bias [N,1,T,T], edit factors for layers > l,
 * z [D] + zsel [N,T,1] (or dW [F,D] + key [N,T,F]), tgt_rows [M], tgt_ids [M,1], tgt_w [M],
 * kl_rows [K], kl_ref [K,V] (reference log-probs), kl_w [] (kl_factor / K), kl_rev [] (1: KL(edited ‖ original)
 * as ROME, 0: KL(original ‖ edited); see klTerm).
 * Outputs: loss, nll, kl, grad (same shape as the perturbation), tgt_logp [M].
 */
export function buildLossGraph(ck: Checkpoint, spec: LossGraphSpec): Graph {
  const cfg = ck.config;
  const dt: DType = spec.dtype ?? 'float32';
  const g = new Graph(`${cfg.arch}_loss_l${spec.layer}_${spec.perturbation}`, dt);
  const b = makeBuilder(g, ck);
  const resid = g.input('resid', dt, ['B', 'T', cfg.hidden]);
  const positions = g.input('position_ids', 'int64', ['B', 'T']);
  const bias = g.input('attn_bias', dt, ['B', 1, 'T', 'T']);
  const upper = [...Array(cfg.layers).keys()].filter((l) => l > spec.layer);
  const ctx: BlockContext = { positions, bias, edits: editInputs(g, ck, upper) };

  let param: string;
  let h: string;
  if (spec.perturbation === 'z') {
    param = g.input('z', dt, [cfg.hidden]);
    const zsel = g.input('zsel', dt, ['B', 'T', 1]);
    h = g.add(resid, g.mul(zsel, param));
  } else {
    param = g.input('dW', dt, [cfg.ffn, cfg.hidden]);
    const key = g.input('key', dt, ['B', 'T', cfg.ffn]);
    h = g.add(resid, g.matmul(key, param));
  }
  b.prepare(ctx);
  // the residual stream between blocks: the backward pass recomputes one block at a time from these
  const checkpoints = [h];
  for (const l of upper) checkpoints.push((h = b.block(l, h, ctx)));
  const flat = g.reshape(h, [-1, cfg.hidden], ['BT', cfg.hidden]);

  // target NLL: rows predicting each target token
  const tgtRows = g.input('tgt_rows', 'int64', ['M']);
  const tgtIds = g.input('tgt_ids', 'int64', ['M', 1]);
  const tgtW = g.input('tgt_w', dt, ['M']);
  const logpT = g.logSoftmax(b.lmHead(b.finalNorm(g.gather(flat, tgtRows))), -1);
  const picked = g.squeeze(g.op('GatherElements', [logpT, tgtIds], { axis: { i: 1 } }), [1]);
  const nll = g.neg(g.reduce('ReduceSum', g.mul(picked, tgtW), [0], false));

  // KL at the KL rows (the caller picks the position: ROME's subject-last token or the last token)
  const klRows = g.input('kl_rows', 'int64', ['K']);
  const klRef = g.input('kl_ref', dt, ['K', cfg.vocabSize]);
  const klW = g.input('kl_w', dt, []);
  const klRev = g.input('kl_rev', dt, []);
  const logpK = g.logSoftmax(b.lmHead(b.finalNorm(g.gather(flat, klRows))), -1);
  const kl = g.mul(klTerm(g, logpK, klRef, klRev), klW);

  const loss = g.add(nll, kl);
  const [grad] = gradients(g, loss, [param], { checkpoints });
  g.output(loss, 'loss');
  g.output(nll, 'nll');
  g.output(kl, 'kl');
  g.output(grad, 'grad');
  g.output(picked, 'tgt_logp');
  g.output(logpK, 'kl_logp');
  return g;
}
