// NAS's anchor norm for a model and profile (normControl 'nas-anchor', profile field normAnchor): the
// base method's z solved for a sample of requests on the unedited model (each edit applied, its
// ‖v0 + z‖ read, and withdrawn again before the next), and the mean of those norms with the top 5 %
// dropped, as NAS computes it from MEMIT's solved v* on CounterFact.
//   npm run nas-anchor -- --model gpt2-world-a --method memit [--samples 50] [--facts FILE]
// Prints the anchor as JSON; put it in the profile as normAnchor.<method> (or pass it to the experiment
// with --norm-anchor memit=X).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Editor, loadProfile, statsProvider } from '../src-main/engine/edit';
import { nasAnchorOf } from '../src-main/engine/edit/norm-control';
import { EacError } from '../src-main/engine/errors';
import { parseFacts } from '../src-main/engine/facts';
import { fixturesDir } from '../src-main/engine/paths';
import { LoadedModel } from '../src-main/engine/runtime/model';
import { modelDirOf } from './experiment/options';

const { values } = parseArgs({ options: { model: { type: 'string' }, profile: { type: 'string' }, method: { type: 'string' }, samples: { type: 'string' }, facts: { type: 'string' } } });
const modelDir = modelDirOf(values.model ?? 'gpt2-world-a');
const method = values.method ?? 'memit';
if (method !== 'memit' && method !== 'rome') throw new EacError('usage', `--method must be memit or rome (the base method whose z NAS's anchor averages; got "${method}")`);
const samples = Number(values.samples ?? 50);
if (!Number.isInteger(samples) || samples < 1) throw new EacError('usage', '--samples must be a positive integer');
const factsFile = values.facts ?? path.join(fixturesDir(), 'world-a', 'edits.json');
const all = parseFacts(path.basename(factsFile), fs.readFileSync(factsFile, 'utf8')).requests;
// spread over the whole list, as NAS samples CounterFact at random (this is deterministic)
const step = Math.max(1, Math.floor(all.length / samples));
const picked = all.filter((_, i) => i % step === 0).slice(0, samples);

const profile = loadProfile(values.profile ?? path.basename(modelDir));
profile.normControl = 'off';
const model = LoadedModel.open(modelDir);
try {
  const editor = new Editor(model, profile, statsProvider(model, profile, {}));
  const norms: number[] = [];
  for (const req of picked) {
    const r = await editor.edit(method, [req], { skipMetrics: true });
    editor.unapply(r.deltas);
    const d = r.details as { vStarNorm?: number; requests?: { vStarNorm: number }[] };
    norms.push(method === 'rome' ? d.vStarNorm! : d.requests![0].vStarNorm);
    process.stderr.write(`${req.caseId}: ‖v*‖ ${norms[norms.length - 1].toFixed(2)}\n`);
  }
  const a = nasAnchorOf(norms);
  console.log(JSON.stringify({ model: path.basename(modelDir), profile: profile.name, method, layer: method === 'rome' ? profile.rome.layer : profile.memit.layers[profile.memit.layers.length - 1], samples: norms.length, ...a, min: Math.min(...norms), max: Math.max(...norms) }));
} finally {
  await model.release();
}
