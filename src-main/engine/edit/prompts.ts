// Token-level layout of the prompts an edit optimises over (ROME's compute_v conventions):
// every context template wraps the request prompt; z acts at the subject's last token.
import type { EditRequest } from '../facts/types';
import type { LoadedModel } from '../runtime/model';
import { EacError } from '../errors';

export interface PromptRow {
  ids: number[];
  /** index (unpadded) of the subject's last token */
  subjectLast: number;
  /** for rewriting rows: positions (unpadded) predicting each target token */
  targetPositions: number[];
}

export interface EditPromptSet {
  rewrite: PromptRow[];
  kl: PromptRow[];
  targetIds: number[];
  /** the plain request prompt, subject filled in */
  plainPrompt: string;
}

/** Index of the last subject token when `template` ("... {} ...") is filled with `subject`. */
export function subjectLastIndex(model: LoadedModel, template: string, subject: string): number {
  const at = template.lastIndexOf('{}');
  if (at < 0) throw new EacError('bad_params', `prompt "${template}" has no "{}" slot for the subject`);
  const prefix = template.slice(0, at) + subject;
  return model.encode(prefix).length - 1;
}

export function targetTokenIds(model: LoadedModel, plainPrompt: string, target: string): number[] {
  const ids = model.tok.continuationIds(plainPrompt, ' ' + target.trim());
  if (ids.length === 0) throw new EacError('bad_params', `target "${target}" encodes to no tokens`);
  return ids;
}

/**
 * ROME compute_v / MEMIT compute_z: `tok(" " + target)` by itself, BOS dropped (profile targetTokens
 * 'alone'); targetTokenIds is the in-context form.
 */
export function targetTokenIdsAlone(model: LoadedModel, target: string): number[] {
  let ids = model.tok.encode(' ' + target.trim());
  const bos = model.cfg.bosTokenId;
  if (bos !== undefined && ids[0] === bos) ids = ids.slice(1);
  if (ids.length === 0) throw new EacError('bad_params', `target "${target}" encodes to no tokens`);
  return ids;
}

export function buildEditPrompts(model: LoadedModel, req: EditRequest, contexts: string[], klTemplate = '{} is a', targetTokens: 'in-context' | 'alone' = 'in-context'): EditPromptSet {
  const plainPrompt = req.prompt.replace('{}', req.subject);
  const targetIds = targetTokens === 'alone' ? targetTokenIdsAlone(model, req.targetNew) : targetTokenIds(model, plainPrompt, req.targetNew);
  const rewrite = contexts.map((ctx) => {
    const template = ctx.replace('{}', req.prompt);
    const promptIds = model.encode(template.replace('{}', req.subject));
    const ids = [...promptIds, ...targetIds.slice(0, -1)];
    return {
      ids,
      subjectLast: subjectLastIndex(model, template, req.subject),
      targetPositions: targetIds.map((_, j) => promptIds.length - 1 + j),
    };
  });
  const klIds = model.encode(klTemplate.replace('{}', req.subject));
  const kl = [{ ids: klIds, subjectLast: subjectLastIndex(model, klTemplate, req.subject), targetPositions: [] }];
  return { rewrite, kl, targetIds, plainPrompt };
}
