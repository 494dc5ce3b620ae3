// Sequential-editing experiment on a fixture model: ROME vs EAC-ROME, MEMIT vs EAC-MEMIT and AlphaEdit vs EAC-AlphaEdit over the
// first N world-a edit requests, on the product's queue runner (experiment/run.ts: one resident model and
// throw-away ledger per method), all methods advanced checkpoint by checkpoint, so an interrupted run still
// has every method at the same count. At each checkpoint every edited fact is measured again ("final"), the
// health tasks run, and the JSON is rewritten.
//   npm run experiment -- --model gpt2-world-a --variant default --edits 300 [--checkpoints 100,300] [--batch-size 10]
//   npm run experiment -- ... --norm-control nas|nas-anchor [--norm-anchor memit=X]   (norm control over the profile's
//     setting, README "Norm control"; the profile name gets +norm-<setting>)
//   npm run experiment -- --report experiments/a.json,experiments/b.json:memit+eac-memit   (README table from results;
//     `:m1+m2` takes only those methods of a file; a later file's checkpoint replaces an earlier one of the same method)
// Variants (profile overrides; README "Profile schema" names the source of each option):
//   default       the profile as it is (published code: ROME/MEMIT's own, the EAC authors' for EAC)
//   authors-rome  + rome.mom2Adjustment false (the EAC authors' / EasyEdit's ROME configs)
//   paper         the EAC paper's wording: saliency v* ⊙ ∇L, percentile anchors, λΣα|z| + μ‖z‖²
//   previous      this project's choices before issue 10 (single-step score, squared weight decay, ...)
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadTaskFile } from '../src-main/engine/eval/tasks';
import { parseFacts } from '../src-main/engine/facts';
import { packageRoot } from '../src-main/engine/paths';
import { EacError } from '../src-main/engine/errors';
import { experimentSetup } from './experiment/options';
import { loadReportRuns, mergeRuns, reportTable, writeReadme } from './experiment/report';
import { runExperiment } from './experiment/run';

async function run(values: Record<string, string | boolean | undefined>): Promise<string> {
  const s = experimentSetup(values);
  const requests = parseFacts(path.basename(s.factsFile), fs.readFileSync(s.factsFile, 'utf8')).requests.slice(0, s.edits);
  await runExperiment({
    modelDir: s.modelDir,
    profile: s.profile,
    variant: s.variant,
    methods: s.methods,
    requests,
    checkpoints: s.checkpoints,
    batchSize: s.batchSize,
    tasks: loadTaskFile(path.join(packageRoot(), 'resources', 'tasks', 'world-a.json')),
    evalN: s.evalN,
    out: s.out,
    log: (line) => process.stderr.write(`${s.modelName}/${s.profile.name}/${s.variant}: ${line}\n`),
  });
  return s.out;
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
      'norm-control': { type: 'string' },
      'norm-anchor': { type: 'string' },
      out: { type: 'string' },
      report: { type: 'string' },
      'no-readme': { type: 'boolean' },
    },
  });
  const specs = values.report ? values.report.split(',') : [await run(values)];
  const table = reportTable(mergeRuns(loadReportRuns(specs)));
  console.log(table);
  if (!values['no-readme']) writeReadme(table);
}

// a usage error (a bad flag, a --report list that mixes settings) is one line, not a stack trace
await main().catch((e: unknown) => {
  if (!(e instanceof EacError) || e.code !== 'usage') throw e;
  process.stderr.write(`experiment: ${e.message}\n`);
  process.exitCode = 2;
});
