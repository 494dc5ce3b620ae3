// The verdict of an e2e run from its per-spec summary (kept apart from run.ts so that it can be
// unit-tested: tests/e2e/verdict.test.ts). A run passes only when no spec failed AND at least one
// spec really ran steps: every spec skipped, or none run at all, is a failure, because a green
// "e2e: passed" must mean that something was tested.

export interface SpecSummary {
  spec: string;
  passed: number;
  failed: number;
  skipped?: string;
  error?: string;
}

export function verdict(summary: readonly SpecSummary[]): { code: 0 | 1; line: string } {
  const failed = summary.filter((s) => s.failed > 0 || s.error);
  if (failed.length) return { code: 1, line: `e2e: FAILED (${failed.map((s) => s.spec).join(', ')})` };
  const ran = summary.filter((s) => !s.skipped && s.passed > 0);
  if (ran.length === 0)
    return {
      code: 1,
      line:
        'e2e: FAILED — nothing was tested (' +
        (summary.length === 0 ? 'no spec ran' : summary.map((s) => `${s.spec}: ${s.skipped ? `skipped (${s.skipped})` : 'no steps ran'}`).join('; ')) +
        ')',
    };
  const rest = summary.filter((s) => !ran.includes(s));
  return { code: 0, line: `e2e: passed (${ran.map((s) => s.spec).join(', ')}${rest.length ? `; skipped: ${rest.map((s) => s.spec).join(', ')}` : ''})` };
}
