// `eac edit --db` is the app's queue runner on a ledger-backed queue: run twice with the same facts
// file, the second run resumes the queue instead of applying the same edits again; --no-resume
// starts a new queue. In-process through the CLI's main().
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src-main/cli/main';
import { openLedger } from '../../src-main/store';
import { fastProfile, GPT2, tmpDir, worldEdits, runEac } from './helpers';

const eac = (args: string[]) => runEac(args);

describe('eac edit --db resumes instead of re-applying', () => {
  const dir = tmpDir('eac-cli-resume-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('text mode: the statistics bar counts samples only, and a run that edits nothing reports no mean', async () => {
    process.env.EAC_CACHE_DIR = path.join(dir, 'cache-text');
    const db = path.join(dir, 'ledger-text.sqlite');
    const facts = path.join(dir, 'facts-text.json');
    const [r] = worldEdits(1, 80);
    fs.writeFileSync(facts, JSON.stringify({ case_id: r.caseId, prompt: r.prompt, subject: r.subject, target_new: r.targetNew }));
    const profile = path.join(dir, 'profile-text.json');
    fs.writeFileSync(profile, JSON.stringify(fastProfile('gpt2-world-a')));
    const args = ['edit', '--model', GPT2, '--facts', facts, '--method', 'rome', '--profile', profile, '--db', db];
    const first = await eac(args);
    expect(first.code).toBe(0);
    // statistics were computed (fresh cache): the bar ran to its end, and no phase event without a
    // count was printed as one ("statistics 0/undefined samples")
    expect(first.err).toMatch(/statistics (\d+)\/\1 samples\n/);
    expect(first.err + first.out).not.toMatch(/undefined|NaN/);
    expect(first.out).toMatch(/done: 1 edits, 0 skipped(, 1 did not take)?; mean reliability \d\.\d{3}/);
    const second = await eac(args);
    expect(second.code).toBe(0);
    expect(second.out).toMatch(/done: 0 edits, 0 skipped\s*$/);
  });

  it('a second run with the same cases edits nothing again; --no-resume queues them anew', async () => {
    process.env.EAC_CACHE_DIR = path.join(dir, 'cache');
    const db = path.join(dir, 'ledger.sqlite');
    const facts = path.join(dir, 'facts.json');
    const reqs = worldEdits(2, 70).map((r) => ({ case_id: r.caseId, prompt: r.prompt, subject: r.subject, target_new: r.targetNew }));
    fs.writeFileSync(facts, reqs.map((r) => JSON.stringify(r)).join('\n'));
    const profile = path.join(dir, 'profile.json');
    fs.writeFileSync(profile, JSON.stringify(fastProfile('gpt2-world-a')));
    const args = ['edit', '--model', GPT2, '--facts', facts, '--method', 'rome', '--profile', profile, '--db', db, '--json'];
    const lines = (s: string) => s.trim().split('\n').map((l) => JSON.parse(l));

    const first = await eac(args);
    expect(first.code).toBe(0);
    const e1 = lines(first.out).filter((l) => l.type === 'edit');
    expect(e1).toHaveLength(2);
    expect(e1.map((l) => l.ledger.seq)).toEqual([1, 2]);

    const second = await eac(args);
    expect(second.code).toBe(0);
    const l2 = lines(second.out);
    expect(l2.find((l) => l.type === 'resume')).toMatchObject({ done: 2, total: 2 });
    expect(l2.filter((l) => l.type === 'edit')).toHaveLength(0);
    expect(l2.pop()).toMatchObject({ type: 'summary', edits: 0 });

    const third = await eac([...args, '--no-resume']);
    expect(third.code).toBe(0);
    expect(lines(third.out).filter((l) => l.type === 'edit').map((l) => l.ledger.seq)).toEqual([3, 4]);

    const ledger = openLedger(db);
    try {
      const m = ledger.listModels()[0];
      expect(ledger.history(m.id).edits).toHaveLength(4);
      expect(ledger.queues.queuesForModel(m.id)).toHaveLength(2);
    } finally {
      ledger.close();
    }
  });
});
