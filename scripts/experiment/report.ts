// The README table of experiment results (experiments/*.json), merged per model, variant and batch size.
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src-main/engine/paths';
import type { RunResult } from './run';

/** Runs of the same model and variant (e.g. one process per method pair) become one table. */
export function mergeRuns(runs: RunResult[]): RunResult[] {
  const by = new Map<string, RunResult>();
  for (const r of runs) {
    const k = `${r.model}|${r.variant}|${r.batchSize ?? 1}`;
    const m = by.get(k);
    if (!m) by.set(k, structuredClone(r));
    else {
      m.methods.push(...r.methods);
      m.edits = Math.max(m.edits, r.edits);
    }
  }
  return [...by.values()];
}

/** A task counts for retention when the unedited model does it clearly better than chance. */
export const CAN_DO = 0.6;

export function reportTable(results: RunResult[]): string {
  const f = (x: number | null | undefined, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
  const lines: string[] = [];
  for (const res of results) {
    const can = Object.entries(res.health0).filter(([, s]) => s >= CAN_DO).map(([t]) => t);
    const skipped = Object.entries(res.health0).filter(([, s]) => s < CAN_DO).map(([t, s]) => `${t} ${s.toFixed(2)}`);
    lines.push(
      `**${res.model}**, profile \`${res.profile}\`, variant \`${res.variant}\`${(res.batchSize ?? 1) > 1 ? `, batch size ${res.batchSize} for the batched methods` : ''}: world-a requests edited one after another, one row per method at each checkpoint ` +
        `(\`npm run experiment -- --model ${res.model} --variant ${res.variant} --edits N\`). Health retention = score after / before, ` +
        `${evalNote(res)}; the lowest over the tasks the unedited model can do (score ≥ ${CAN_DO}: ${can.join(', ')}${skipped.length ? `; left out: ${skipped.join(', ')}` : ''}).`,
      '',
      '| method | edits | immediate rel / gen / loc | final rel / gen / loc | L1 growth per edited layer (%) | health retention (min; per task) | anchors | s/edit |',
      '|---|---|---|---|---|---|---|---|',
    );
    const cps = [...new Set(res.methods.flatMap((m) => m.checkpoints.map((c) => c.edits)))].sort((a, b) => a - b);
    for (const e of cps)
      for (const m of res.methods) {
        const c = m.checkpoints.find((x) => x.edits === e);
        if (!c) continue;
        const ret = can.map((t) => (res.health0[t] > 0 ? c.health[t] / res.health0[t] : NaN));
        lines.push(
          `| ${m.method} | ${c.edits} | ${f(c.immediate.reliability)} / ${f(c.immediate.generalization)} / ${f(c.immediate.locality)} | ${f(c.final.reliability)} / ${f(c.final.generalization)} / ${f(c.final.locality)} | ${Object.entries(
            c.l1GrowthPct,
          )
            .map(([k, v]) => `${k} ${v.toFixed(1)}`)
            .join(', ')} | ${f(ret.length ? Math.min(...ret) : null, 2)}; ${ret.map((x) => f(x, 2)).join(' / ')} | ${c.anchorsMean === null ? '–' : c.anchorsMean.toFixed(1)} | ${c.secondsPerEdit.toFixed(2)} |`,
        );
      }
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}

function evalNote(res: RunResult): string {
  return `tasks ${Object.keys(res.health0).join(' / ')}`;
}

/** Writes `table` between the README's experiment markers (a section at the end when there are none). */
export function writeReadme(table: string) {
  const readme = path.join(packageRoot(), 'README.md');
  if (!fs.existsSync(readme)) return;
  const text = fs.readFileSync(readme, 'utf8');
  const start = '<!-- experiment:start -->';
  const end = '<!-- experiment:end -->';
  const block = `${start}\n${table}\n${end}`;
  const next = text.includes(start) ? text.replace(new RegExp(`${start}[\\s\\S]*?${end}`), () => block) : `${text.trimEnd()}\n\n## Experiment: sequential editing\n\n${block}\n`;
  fs.writeFileSync(readme, next);
}
