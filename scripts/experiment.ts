// Sequential-editing experiment on a fixture model: ROME vs EAC-ROME, MEMIT vs EAC-MEMIT and AlphaEdit vs EAC-AlphaEdit over the
// first N world-a edit requests, on the product's queue runner (experiment/run.ts: one resident model and
// throw-away ledger per method), all methods advanced checkpoint by checkpoint, so an interrupted run still
// has every method at the same count. At each checkpoint every edited fact is measured again ("final"), the
// health tasks run, and the JSON is rewritten.
//   npm run experiment -- --model gpt2-world-a --variant default --edits 300 [--checkpoints 100,300] [--batch-size 10]
//   npm run experiment -- --report experiments/a.json,experiments/b.json   (README table from results)
// Variants (profile overrides; README "Profile schema" names the source of each option):
//   default       the profile as it is (published code: ROME/MEMIT's own, the EAC authors' for EAC)
//   authors-rome  + rome.mom2Adjustment false (the EAC authors' / EasyEdit's ROME configs)
//   paper         the EAC paper's wording: saliency v* ⊙ ∇L, percentile anchors, λΣα|z| + μ‖z‖²
//   previous      this project's choices before issue 10 (single-step score, squared weight decay, ...)
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EDIT_METHODS, loadProfile, type EditMethod } from '../src-main/engine/edit';
import { EacError } from '../src-main/engine/errors';
import { loadTaskFile } from '../src-main/engine/eval/tasks';
import { parseFacts } from '../src-main/engine/facts';
import { fixturesDir, packageRoot } from '../src-main/engine/paths';
import { mergeRuns, reportTable, writeReadme } from './experiment/report';
import { runExperiment, type RunResult } from './experiment/run';
import { applyVariant, VARIANTS, type Variant } from './experiment/variants';

async function run(values: Record<string, string | boolean | undefined>): Promise<string> {
  const root = packageRoot();
  const modelArg = String(values.model ?? 'gpt2-world-a');
  const modelDir = fs.existsSync(path.join(fixturesDir(), modelArg)) ? path.join(fixturesDir(), modelArg) : path.resolve(modelArg);
  const modelName = path.basename(modelDir);
  const variant = String(values.variant ?? 'default') as Variant;
  if (!VARIANTS.includes(variant)) throw new EacError('usage', `--variant must be one of ${VARIANTS.join(', ')}`);
  const profile = applyVariant(loadProfile(String(values.profile ?? modelName)), variant);
  const N = Number(values.edits ?? 100);
  const methods = String(values.methods ?? 'rome,eac-rome,memit,eac-memit,alphaedit,eac-alphaedit').split(',') as EditMethod[];
  const unknown = methods.filter((m) => !EDIT_METHODS.includes(m));
  if (unknown.length) throw new EacError('usage', `--methods: unknown ${unknown.join(', ')} (known: ${EDIT_METHODS.join(', ')})`);
  const batchSize = Math.max(1, Number(values['batch-size'] ?? 1));
  if (!Number.isInteger(batchSize)) throw new EacError('usage', '--batch-size must be a positive integer');
  const factsFile = String(values.facts ?? path.join(fixturesDir(), 'world-a', 'edits.json'));
  const requests = parseFacts(path.basename(factsFile), fs.readFileSync(factsFile, 'utf8')).requests.slice(0, N);
  const out = String(values.out ?? path.join(root, 'experiments', `${modelName}-${variant}-${N}.json`));
  await runExperiment({
    modelDir,
    profile,
    variant,
    methods,
    requests,
    checkpoints: String(values.checkpoints ?? '100,300').split(',').map(Number),
    batchSize,
    tasks: loadTaskFile(path.join(root, 'resources', 'tasks', 'world-a.json')),
    evalN: Number(values['eval-n'] ?? 100),
    out,
    log: (line) => process.stderr.write(`${modelName}/${variant}: ${line}\n`),
  });
  return out;
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      profile: { type: 'string' },
      variant: { type: 'string' },
      edits: { type: 'string' },
      checkpoints: { type: 'string' },
      methods: { type: 'string' },
      facts: { type: 'string' },
      'eval-n': { type: 'string' },
      'batch-size': { type: 'string' },
      out: { type: 'string' },
      report: { type: 'string' },
      'no-readme': { type: 'boolean' },
    },
  });
  const files = values.report ? values.report.split(',') : [await run(values)];
  const table = reportTable(mergeRuns(files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as RunResult)));
  console.log(table);
  if (!values['no-readme']) writeReadme(table);
}

await main();
