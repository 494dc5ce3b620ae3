// `eac edit` exit codes when items fail or none can be edited (issue 19): "done: 0 edits" with exit 0 hid a run in
// which every item failed (`--stats /dev/zero`). In-process through the CLI's main(), on the GPT-2 fixture.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fastProfile, GPT2, tmpDir, worldEdits, runEac } from './helpers';

describe('eac edit exits non-zero when items fail', () => {
  const dir = tmpDir('eac-cli-edit-fail-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const profile = path.join(dir, 'profile.json');
  fs.writeFileSync(profile, JSON.stringify(fastProfile('gpt2-world-a')));
  const factsOf = (name: string, rows: Record<string, string>[]) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, rows.map((r) => JSON.stringify(r)).join('\n'));
    return f;
  };
  const world = (n: number, offset: number) =>
    worldEdits(n, offset).map((r) => ({ case_id: r.caseId, prompt: r.prompt, subject: r.subject, target_new: r.targetNew }));

  it('every item failed (--stats /dev/zero): exit 1, each failure and a summary with counts', async () => {
    const facts = factsOf('two.jsonl', world(2, 90));
    const base = ['edit', '--model', GPT2, '--facts', facts, '--method', 'rome', '--profile', profile, '--cache-dir', path.join(dir, 'cache-zero'), '--stats', '/dev/zero'];
    const r = await runEac(base);
    expect(r.code, r.err).toBe(1);
    expect(r.out).toMatch(/^failed \S+: /m);
    expect(r.out).toMatch(/done: 0 edits, 0 skipped, 2 failed\s*$/);
    expect(r.err).toMatch(/eac edit: error: 2 of 2 item\(s\) failed, nothing was edited: .*\/dev\/zero/);
    const j = await runEac([...base, '--json']);
    expect(j.code).toBe(1);
    const lines = j.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'failed')).toHaveLength(2);
    expect(lines.pop()).toMatchObject({ type: 'summary', edits: 0, failed: 2 });
  });

  it('every item invalid for the model (prompt longer than its context): exit 2, not "done"', async () => {
    const long = 'word '.repeat(150);
    const facts = factsOf('long.jsonl', [{ case_id: 'long1', prompt: `${long}{} lives in`, subject: 'Nyxlax Sovhyv', target_new: 'Paris' }]);
    const r = await runEac(['edit', '--model', GPT2, '--facts', facts, '--method', 'rome', '--profile', profile, '--cache-dir', path.join(dir, 'cache-long')]);
    expect(r.code, r.err + r.out).toBe(2);
    expect(r.out).toMatch(/^skip long1: /m);
    expect(r.err).toMatch(/no request could be edited: all 1 were skipped as invalid/);
  });
});
