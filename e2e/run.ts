// `npm run e2e`: builds, then runs the headless (Chromium) and Electron specs in order, prints a
// summary, and exits non-zero when a step fails, and also when nothing was tested: every spec
// skipped, or no spec ran a single step (./verdict.ts). A skipped spec next to one that ran is
// reported but does not fail the run. Screenshots: test-results/e2e/<spec>/*.png.
//   npm run e2e -- headless      (only the headless spec)
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, type Steps } from './flow';
import { verdict, type SpecSummary } from './verdict';

type Spec = { run(): Promise<{ name: string; steps: Steps; skipped?: string }> };

const SPECS: Record<string, () => Promise<Spec>> = {
  headless: () => import('./headless.spec'),
  electron: () => import('./electron.spec'),
  'engine-recovery': () => import('./engine-recovery.spec'),
};

async function main(): Promise<number> {
  const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = only.length ? only : Object.keys(SPECS);
  fs.mkdirSync(path.join(ROOT, 'test-results', 'e2e'), { recursive: true });
  const summary: SpecSummary[] = [];
  for (const name of names) {
    const load = SPECS[name];
    if (!load) {
      console.error(`unknown spec ${name} (known: ${Object.keys(SPECS).join(', ')})`);
      return 2;
    }
    console.log(`\n=== e2e: ${name} ===`);
    const spec = await load();
    try {
      const r = await spec.run();
      if (r.skipped) console.log(`  SKIPPED: ${r.skipped}`);
      summary.push({ spec: name, passed: r.steps.results.filter((s) => s.ok).length, failed: r.steps.results.filter((s) => !s.ok).length, skipped: r.skipped });
    } catch (e) {
      const err = (e as Error).message.split('\n')[0];
      summary.push({ spec: name, passed: 0, failed: 1, error: err });
      console.log(`  spec ${name} failed: ${err}`);
    }
  }
  fs.writeFileSync(path.join(ROOT, 'test-results', 'e2e', 'summary.json'), JSON.stringify(summary, null, 2));
  console.log('\n=== e2e summary ===');
  for (const s of summary) {
    if (s.skipped) console.log(`  ${s.spec}: skipped (${s.skipped})`);
    else if (s.error) console.log(`  ${s.spec}: FAILED (${s.error})`);
    else console.log(`  ${s.spec}: ${s.passed} steps passed, ${s.failed} failed`);
  }
  const v = verdict(summary);
  console.log(v.line);
  return v.code;
}

void main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
