// The README table of experiment results (experiments/*.json), merged per model, variant and batch size.
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src-main/engine/paths';
import type { EditMethod } from '../../src-main/engine/edit';
import { EacError } from '../../src-main/engine/errors';
import type { ZEditMethod } from '../../src-main/engine/edit/profile';
import type { RunResult } from './run';

/** Table rows within a checkpoint: each base method next to its EAC form. */
const ROW_ORDER: readonly EditMethod[] = ['rome', 'eac-rome', 'memit', 'eac-memit', 'alphaedit', 'eac-alphaedit', 'ft', 'ft-en'];

/**
 * `--report` entries: `file.json` (every method in it) or `file.json:m1+m2` (only those methods, e.g.
 * where a file also holds a method measured with an older profile). Throws EacError 'usage' for a
 * method the file does not hold.
 */
export function loadReportRuns(specs: string[]): RunResult[] {
  return specs.map((spec) => {
    const m = /^(.*\.json):([a-z+-]+)$/.exec(spec);
    const file = m ? m[1] : spec;
    const run = JSON.parse(fs.readFileSync(file, 'utf8')) as RunResult;
    if (!m) return run;
    const want = m[2].split('+');
    const missing = want.filter((w) => !run.methods.some((x) => x.method === w));
    if (missing.length) throw new EacError('usage', `--report ${spec}: ${file} has no ${missing.join(', ')} (it has ${run.methods.map((x) => x.method).join(', ')})`);
    return { ...run, methods: run.methods.filter((x) => want.includes(x.method)) };
  });
}

/**
 * Runs of the same model, profile, variant and batch size (e.g. one process per method pair) become
 * one table. The profile's name stands for its setting: `--norm-control` renames it (`+norm-<value>`),
 * so a NAS run never joins the bundled profile's table. A method in several runs keeps one row per
 * checkpoint: a later run's checkpoint replaces an earlier one's at the same count (runs are
 * deterministic; only the seconds per edit differ). Norm control the profile itself scopes to some
 * methods (`normControlMethods`) joins the table; EacError 'usage' where the files of one table
 * disagree on it, or where a file without norm control gives a row of a method the setting covers
 * (it was measured with another setting under the same name).
 */
export function mergeRuns(runs: RunResult[]): RunResult[] {
  const by = new Map<string, RunResult>();
  for (const r of runs) {
    const k = tableKey(r);
    if (!by.has(k)) by.set(k, { ...structuredClone(r), methods: [] });
    const into = by.get(k)!;
    into.edits = Math.max(into.edits, r.edits);
    if (normOn(r)) {
      if (!normOn(into)) Object.assign(into, { normControl: r.normControl, normAnchor: r.normAnchor, normControlMethods: r.normControlMethods });
      else if (normSetting(into) !== normSetting(r))
        throw new EacError('usage', `--report: runs of profile "${r.profile}" (${r.model}) differ in norm control (${normSetting(into)} vs ${normSetting(r)}); relabel one of them`);
    }
    for (const meth of r.methods) {
      const have = into.methods.find((x) => x.method === meth.method);
      if (!have) {
        into.methods.push(structuredClone(meth));
        continue;
      }
      const later = new Set(meth.checkpoints.map((c) => c.edits));
      have.checkpoints = [...have.checkpoints.filter((c) => !later.has(c.edits)), ...structuredClone(meth.checkpoints)].sort((a, b) => a.edits - b.edits);
    }
  }
  // a run without norm control under a name whose setting gives it to one of that run's methods
  for (const r of runs) {
    const into = by.get(tableKey(r))!;
    if (normOn(r) || !normOn(into)) continue;
    const covered = r.methods.filter((m) => into.normControlMethods === undefined || into.normControlMethods.includes(m.method as ZEditMethod));
    if (covered.length)
      throw new EacError('usage', `--report: profile "${r.profile}" (${r.model}) gives norm control to ${covered.map((m) => m.method).join(', ')}, but a run of it without norm control holds rows of them`);
  }
  for (const r of by.values()) r.methods.sort((a, b) => ROW_ORDER.indexOf(a.method) - ROW_ORDER.indexOf(b.method));
  return [...by.values()];
}

/** the table a run's rows go to: one per model, profile (its name stands for its setting), variant and batch size */
const tableKey = (r: RunResult) => `${r.model}|${r.profile}|${r.variant}|${r.batchSize ?? 1}`;
const normOn = (r: RunResult) => (r.normControl ?? 'off') !== 'off';
const normSetting = (r: RunResult) => JSON.stringify([r.normControl ?? 'off', r.normAnchor ?? null, r.normControlMethods ?? null]);

/** A task counts for retention when the unedited model does it clearly better than chance. */
export const CAN_DO = 0.6;

export function reportTable(results: RunResult[]): string {
  const f = (x: number | null | undefined, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
  const lines: string[] = [];
  for (const res of results) {
    const can = Object.entries(res.health0).filter(([, s]) => s >= CAN_DO).map(([t]) => t);
    const skipped = Object.entries(res.health0).filter(([, s]) => s < CAN_DO).map(([t, s]) => `${t} ${s.toFixed(2)}`);
    const normed = (res.normControl ?? 'off') !== 'off';
    // the anchor is written twice: `memit 58.4` in the prose, `memit=58.4` in the command
    const anchor = (sep: string, join: string) => Object.entries(res.normAnchor ?? {}).map(([k, v]) => `${k}${sep}${v}`).join(join);
    const hasAnchor = Boolean(res.normAnchor);
    // norm control scoped by the profile (normControlMethods) is the profile's own setting: no flag in the command
    const scoped = res.normControlMethods !== undefined;
    const setting = normed ? `, norm control \`${res.normControl}\`${hasAnchor ? ` (anchor ${anchor(' ', ', ')})` : ''}${scoped ? ` on ${res.normControlMethods!.join(', ')} (the profile's)` : ''}` : '';
    const flags = normed && !scoped ? ` --norm-control ${res.normControl}${hasAnchor ? ` --norm-anchor ${anchor('=', ',')}` : ''}` : '';
    lines.push(
      `**${res.model}**, profile \`${res.profile}\`, variant \`${res.variant}\`${setting}${(res.batchSize ?? 1) > 1 ? `, batch size ${res.batchSize} for the batched methods` : ''}: world-a requests edited one after another, one row per method at each checkpoint ` +
        `(\`npm run experiment -- --model ${res.model} --variant ${res.variant}${flags} --edits N\`). Health retention = score after / before, ` +
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
