// playground.compare: top-k next tokens and the greedy continuation on the base model (factors
// lifted for the call) and the edited model, side by side.
import type { PlaygroundSide, TopKEntry } from '../../api/contract';
import { topTokens, type LoadedModel } from '../../engine/runtime/model';
import { decodeShown } from '../../engine/runtime/decode-shown';
import { positionLimit } from '../../engine/architectures';
import type { HandlerRegistry } from '../registry';
import { checked, requireIdle, requireWorkspace } from './context';
import { studioError } from './workspace';

async function side(model: LoadedModel, ids: number[], k: number, maxNew: number, signal: AbortSignal): Promise<PlaygroundSide> {
  const [lg] = await model.lastLogits([ids]);
  // ids the tokenizer has no token for show as <unk:ID>, never as nothing
  const top: TopKEntry[] = topTokens(lg, k, (ids) => decodeShown(model.tok, ids));
  const eos = model.cfg.eosTokenId;
  const [newIds] = maxNew > 0 ? await model.generate([ids], maxNew, { stopIds: eos === undefined ? [] : [eos], signal }) : [[]];
  return { top, newIds, continuation: decodeShown(model.tok, newIds, true) };
}

export function registerHandlers(r: HandlerRegistry): void {
  r.add({
    async 'playground.compare'(params, ctx) {
      const p = checked('playground.compare', params);
      const { ws } = requireWorkspace(ctx);
      requireIdle(ctx, 'use the playground');
      const model = ws.model;
      const ids = model.encode(p.prompt);
      if (ids.length === 0) throw studioError('the prompt is empty and the model has no BOS token');
      // checked here too so the playground answers with a studio error before either side runs
      const limit = positionLimit(model.cfg);
      if (limit !== undefined && ids.length + p.maxNewTokens > limit)
        throw studioError(`prompt (${ids.length} tokens) + ${p.maxNewTokens} new tokens exceeds the model's ${limit} positions`);
      const edited = await side(model, ids, p.k, p.maxNewTokens, ctx.signal);
      const base = await ws.withBase(() => side(model, ids, p.k, p.maxNewTokens, ctx.signal));
      return { prompt: p.prompt, ids, base, edited, liveEdits: ws.liveCount() };
    },
  });
}
