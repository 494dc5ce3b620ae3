import path from 'node:path';
import { defaultCacheDir, importStatsIntoCache, keyStats, modelContentHash } from '../../engine/edit';
import { listCachedStats, sampleWarnings, SolveCache } from '../../engine/edit/stats';
import { LoadedModel } from '../../engine/runtime/model';
import { defineCommand, intOption, optionalString, printJson, requireString, UsageError } from '../command';
import { ProgressPrinter } from '../progress';

function layerList(spec: string, layers: number): number[] {
  const out = spec.split(',').map((s) => {
    if (!/^\d+$/.test(s.trim())) throw new UsageError('usage', `--layers must be comma-separated layer indices, got "${spec}"`);
    return Number(s);
  });
  const bad = out.filter((l) => l >= layers);
  if (bad.length) throw new UsageError('usage', `layer(s) ${bad.join(', ')} out of range: the model has ${layers} layers (0..${layers - 1})`);
  return out;
}

export default defineCommand({
  name: 'stats',
  summary: 'compute, import (ROME/EasyEdit .npz) or list cached key statistics E[kkᵀ]',
  usage: 'stats compute --model DIR --layers L[,L...] [--corpus FILE] [--samples N] [--max-tokens N] [--ridge R] | stats import --model DIR --layer L --npz FILE --label N | stats list [--json]',
  help: [
    'Subcommands:',
    '  compute   one pass over the corpus for all layers, with a progress bar; cached per (model import hash, layer, corpus hash, samples).',
    '            Warns when the statistics cover fewer tokens than d_ff (C is then singular). With --ridge R (ROME\'s',
    '            mom2 ridge; 0 = MEMIT\'s plain C) it also factorises C + R·tr(C)/d_ff·I now, fails clearly when that is',
    '            not positive definite, and stores the factor beside the statistics so edits do not factorise again.',
    '  import    store a ROME/EasyEdit layer_stats .npz (keys mom2.mom2, mom2.count) in the cache; use it with `eac edit --stats-label N`',
    '  list      cached statistics (layer, tokens, corpus, samples, created)',
    'Options:',
    '  --model DIR, --layers 1,2,3, --layer L, --corpus FILE (text or JSONL "text"), --samples N, --max-tokens N,',
    '  --npz FILE, --label N (the samples label ROME uses in its file name, e.g. 100000), --ridge R, --cache-dir DIR, --json',
  ].join('\n'),
  allowPositionals: true,
  options: {
    model: { type: 'string', multiple: true },
    layers: { type: 'string', multiple: true },
    layer: { type: 'string', multiple: true },
    corpus: { type: 'string', multiple: true },
    samples: { type: 'string', multiple: true },
    'max-tokens': { type: 'string', multiple: true },
    npz: { type: 'string', multiple: true },
    label: { type: 'string', multiple: true },
    ridge: { type: 'string', multiple: true },
    'cache-dir': { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    const sub = positionals[0];
    const cacheDir = optionalString(values, 'cache-dir') ? path.resolve(io.cwd, optionalString(values, 'cache-dir')!) : defaultCacheDir();
    if (sub === 'list') {
      const metas = listCachedStats(cacheDir);
      if (values.json) printJson(io, metas);
      else for (const m of metas) io.out(`layer ${m.layer}  dim ${m.dim}  tokens ${m.count}  ${m.origin}  samples ${m.samples}  ${path.basename(m.corpus.path)}  ${m.created}  ${m.key}\n`);
      return;
    }
    if (sub !== 'compute' && sub !== 'import') throw new UsageError('usage', 'stats needs a subcommand: compute, import or list');
    let model: LoadedModel;
    try {
      model = LoadedModel.open(path.resolve(io.cwd, requireString(values, 'model')));
    } catch (e) {
      throw new UsageError('usage', (e as Error).message);
    }
    try {
      if (sub === 'import') {
        const layer = intOption(values, 'layer', { min: 0, max: model.cfg.layers - 1 });
        const npz = path.resolve(io.cwd, requireString(values, 'npz'));
        const label = requireString(values, 'label');
        let ks;
        try {
          ks = await importStatsIntoCache(model, layer, npz, cacheDir, label);
        } catch (e) {
          throw new UsageError('usage', (e as Error).message);
        }
        if (values.json) printJson(io, { layer, key: ks.key, count: ks.count, source: ks.source });
        else io.out(`imported layer ${layer} (${ks.count} tokens) as ${ks.key}\n`);
        return;
      }
      const layers = layerList(requireString(values, 'layers'), model.cfg.layers);
      const samples = intOption(values, 'samples', { min: 1, default: 1000 });
      const corpus = optionalString(values, 'corpus');
      const t0 = performance.now();
      const progress = ProgressPrinter.forIO(io, !!values.json);
      const res = await keyStats(model, layers, {
        cacheDir,
        samples,
        corpusPath: corpus ? path.resolve(io.cwd, corpus) : undefined,
        maxTokensPerSample: values['max-tokens'] ? intOption(values, 'max-tokens', { min: 1 }) : undefined,
        // a bar (terminal), lines, or JSON lines with --json, with the statistics' own ETA
        onProgress: (d, t) => progress.update({ phase: 'statistics', count: { done: d, total: t, unit: 'samples' } }),
      });
      progress.end();
      const ridgeText = optionalString(values, 'ridge');
      const ridge = ridgeText === undefined ? undefined : Number(ridgeText);
      if (ridge !== undefined && !(Number.isFinite(ridge) && ridge >= 0)) throw new UsageError('usage', `--ridge must be a number ≥ 0, got "${ridgeText}"`);
      const dim = model.cfg.ffn;
      const solves = new SolveCache({ maxBytes: 0 });
      const rows = [];
      for (const k of res.values()) {
        // fewer tokens than d_ff: C is singular — an error for a solve without ridge, a warning otherwise
        const warnings =
          ridge !== undefined
            ? sampleWarnings(k, ridge, dim)
            : k.count < dim
              ? [`${k.count} tokens, fewer than d_ff = ${dim}: C = E[kkᵀ] is singular (MEMIT cannot solve with it, ROME only through its ridge); use more samples`]
              : [];
        let factor: string | undefined;
        if (ridge !== undefined) {
          const f0 = performance.now();
          const prep = await solves.prepare(k, ridge, dim);
          factor = `${prep.source} in ${((performance.now() - f0) / 1000).toFixed(1)} s`;
        }
        for (const w of warnings) io.err(`eac stats: warning: layer ${k.layer}: ${w}\n`);
        rows.push({ layer: k.layer, tokens: k.count, source: k.source, key: k.key, warnings, ...(factor ? { factor } : {}) });
      }
      if (values.json) printJson(io, { model_hash: await modelContentHash(model, cacheDir), seconds: (performance.now() - t0) / 1000, layers: rows });
      else for (const r of rows) io.out(`layer ${r.layer}: ${r.tokens} tokens (${r.source}) ${r.key}${r.factor ? `; factor ${r.factor}` : ''}\n`);
    } finally {
      await model.release();
    }
  },
});
