// Sequential-editing experiment on the demo model: ROME vs EAC-ROME and MEMIT vs EAC-MEMIT over
// the first N world-a edit requests. Writes experiments/results.json and the README table.
//   npm run experiment -- [--edits 100] [--methods rome,eac-rome,memit,eac-memit] [--profile P] [--no-readme]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Editor, loadProfile, statsProvider, type EditMethod } from '../src-main/engine/edit';
import { localityPredictions, requestMetrics } from '../src-main/engine/edit/metrics';
import { runSequence } from '../src-main/engine/edit/sequence';
import { loadTaskFile } from '../src-main/engine/eval/tasks';
import { parseFacts } from '../src-main/engine/facts';
import { fixturesDir, packageRoot } from '../src-main/engine/paths';
import { LoadedModel } from '../src-main/engine/runtime/model';

const { values } = parseArgs({
  options: {
    edits: { type: 'string', default: '100' },
    methods: { type: 'string', default: 'rome,eac-rome,memit,eac-memit' },
    profile: { type: 'string', default: 'gpt2-world-a' },
    model: { type: 'string' },
    facts: { type: 'string' },
    'eval-at': { type: 'string', default: '0,25,50,100' },
    'eval-n': { type: 'string', default: '100' },
    out: { type: 'string' },
    'no-readme': { type: 'boolean' },
  },
});
const root = packageRoot();
const modelDir = values.model ?? path.join(root, 'resources', 'demo-model');
const factsFile = values.facts ?? path.join(fixturesDir(), 'world-a', 'edits.json');
const N = Number(values.edits);
const evalAt = values['eval-at']!.split(',').map(Number).filter((x) => x <= N);
const methods = values.methods!.split(',') as EditMethod[];
const profile = loadProfile(values.profile!);
const tasks = loadTaskFile(path.join(root, 'resources', 'tasks', 'world-a.json'));
const requests = parseFacts(path.basename(factsFile), fs.readFileSync(factsFile, 'utf8')).requests.slice(0, N);

interface Row {
  method: EditMethod;
  edits: number;
  final: { reliability: number; generalization: number; locality: number };
  immediate: { reliability: number; generalization: number | null; locality: number | null };
  l1GrowthPct: Record<string, number>;
  l1Series: { edits: number; layer: number; pct: number }[];
  health: { edits: number; scores: Record<string, number> }[];
  anchorsMean: number | null;
  secondsPerEdit: number;
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const rows: Row[] = [];
for (const method of methods) {
  const model = LoadedModel.open(modelDir);
  const editor = new Editor(model, profile, statsProvider(model, profile));
  // neighbourhood predictions of the unedited model, to judge locality after the whole sequence
  const preLoc = [];
  for (const r of requests) preLoc.push(await localityPredictions(model, r));
  const l1Series: Row['l1Series'] = [];
  const anchors: number[] = [];
  const t0 = performance.now();
  let editTime = 0;
  let last = performance.now();
  const summary = await runSequence(editor, requests, {
    method,
    evalTasks: tasks,
    evalN: Number(values['eval-n']),
    evalEvery: evalAt.filter((x) => x > 0).reduce((a, b) => gcd(a, b), 0) || N,
    onHealth: () => void (last = performance.now()),
    onEdit: (r, done) => {
      editTime += performance.now() - last;
      last = performance.now();
      for (const n of r.norms) l1Series.push({ edits: done, layer: n.layer, pct: n.l1GrowthPct });
      const d = r.details as { anchors?: { count: number } | null; requests?: { anchors?: { count: number } | null }[] };
      for (const a of [d.anchors, ...(d.requests ?? []).map((x) => x.anchors)]) if (a) anchors.push(a.count);
      if (done % 10 === 0) process.stderr.write(`${method}: ${done}/${requests.length} edits, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    },
  }).catch((e) => {
    throw new Error(`${method}: ${(e as Error).message}`);
  });
  // health at the gcd interval covers every checkpoint asked for; keep only those
  const health = summary.health.filter((h) => evalAt.includes(h.edits) || h.edits === summary.edits);
  const finals = [];
  for (let i = 0; i < requests.length; i++) finals.push(await requestMetrics(model, requests[i], preLoc[i]));
  const l1: Record<string, number> = {};
  for (const s of l1Series) l1[`L${s.layer}`] = s.pct;
  rows.push({
    method,
    edits: summary.edits,
    final: {
      reliability: mean(finals.map((m) => m.reliability)),
      generalization: mean(finals.map((m) => m.generalization ?? 0)),
      locality: mean(finals.map((m) => m.locality ?? 1)),
    },
    immediate: summary.immediate,
    l1GrowthPct: l1,
    l1Series,
    health,
    anchorsMean: anchors.length ? mean(anchors) : null,
    secondsPerEdit: editTime / 1000 / Math.max(1, summary.edits),
  });
  await model.release();
}

const out = values.out ?? path.join(root, 'experiments', 'results.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify({ model: path.relative(root, modelDir), profile: profile.name, edits: N, rows }, null, 1));

const f = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? '–' : x.toFixed(d));
const taskIds = tasks.map((t) => t.id);
const lines = [
  `Sequential editing of the first ${N} world-a requests on the demo model (profile \`${profile.name}\`), \`npm run experiment\`.`,
  'Final = every edited fact re-measured after the whole sequence (EasyEdit teacher-forced token accuracy; locality = predictions unchanged vs the unedited model).',
  '',
  '| method | final reliability | final generalization | final locality | reliability right after each edit | L1 growth of edited matrices (%) | mean anchors | s/edit |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.method} | ${f(r.final.reliability)} | ${f(r.final.generalization)} | ${f(r.final.locality)} | ${f(r.immediate.reliability)} | ${Object.entries(r.l1GrowthPct)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')} | ${r.anchorsMean === null ? '–' : r.anchorsMean.toFixed(1)} | ${r.secondsPerEdit.toFixed(2)} |`,
  ),
  '',
  `Health (world-a tasks, ${values['eval-n']} examples each) after 0 / ${evalAt.filter((x) => x > 0).join(' / ')} edits:`,
  '',
  `| method | ${taskIds.join(' | ')} |`,
  `|---|${taskIds.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${r.method} | ${taskIds.map((t) => r.health.map((h) => f(h.scores[t], 2)).join(' / ')).join(' | ')} |`),
];
const table = lines.join('\n');
console.log(table);
const readme = path.join(root, 'README.md');
if (!values['no-readme'] && fs.existsSync(readme)) {
  const text = fs.readFileSync(readme, 'utf8');
  const start = '<!-- experiment:start -->';
  const end = '<!-- experiment:end -->';
  const block = `${start}\n${table}\n${end}`;
  const next = text.includes(start) ? text.replace(new RegExp(`${start}[\\s\\S]*?${end}`), block) : `${text.trimEnd()}\n\n## Experiment: sequential editing\n\n${block}\n`;
  fs.writeFileSync(readme, next);
}
