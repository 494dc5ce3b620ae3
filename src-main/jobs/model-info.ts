// What the app shows about an open model (the model card): sizes, tensors and files, from the loaded
// checkpoint. Answered by openModel (jobs/worker.ts) and by workspace.open (jobs/studio/workspace-handlers.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { LoadedModel } from '../engine/runtime/model';
import { ARCHITECTURES } from '../engine/architectures';
import type { ModelInfo } from './protocol';

/** The model card of a loaded model: architecture, sizes, parameter count, dtypes, tensors and the folder's files. */
export function describeModel(model: LoadedModel): ModelInfo {
  const ck = model.ck;
  const cfg = ck.config;
  const tensors = [...ck.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], file: t.file }));
  const dtypes: Record<string, number> = {};
  let parameters = 0;
  for (const t of tensors) {
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    parameters += t.shape.reduce((a, b) => a * b, 1);
  }
  const files = fs
    .readdirSync(ck.dir, { withFileTypes: true })
    .filter((e) => e.isFile() || e.isSymbolicLink())
    .map((e) => ({ name: e.name, bytes: fs.statSync(path.join(ck.dir, e.name)).size }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const raw = cfg.raw;
  return {
    dir: ck.dir,
    arch: cfg.arch,
    architectures: Array.isArray(raw.architectures) ? (raw.architectures as string[]) : [],
    modelType: typeof raw.model_type === 'string' ? raw.model_type : undefined,
    sizes: {
      vocabSize: cfg.vocabSize,
      hidden: cfg.hidden,
      layers: cfg.layers,
      heads: cfg.heads,
      kvHeads: cfg.kvHeads,
      headDim: cfg.headDim,
      ffn: cfg.ffn,
      maxPositions: cfg.maxPositions,
    },
    normEps: cfg.normEps,
    // only rotary architectures use theta; the card leaves it out elsewhere
    ropeTheta: ARCHITECTURES[cfg.arch].rope ? cfg.ropeTheta : undefined,
    activation: cfg.activation,
    tiedHead: cfg.tiedHead,
    bosTokenId: cfg.bosTokenId,
    eosTokenId: cfg.eosTokenId,
    parameters,
    dtypes,
    tensorCount: tensors.length,
    tensors,
    files,
  };
}
