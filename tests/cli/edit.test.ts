// `eac edit`: JSON line per edit, invalid rows reported and skipped, health lines, summary.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../engine/helpers';
import { FIXTURES } from '../shared';

const BIN = path.join(REPO, 'bin/eac.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-cli-edit-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function eac(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { cwd: tmp, env: { ...process.env, EAC_CACHE_DIR: path.join(tmp, 'cache') }, maxBuffer: 1 << 26 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('eac edit', () => {
  it('edits valid CSV rows, skips invalid ones with the reason, and evaluates health', async () => {
    const csv = path.join(tmp, 'facts.csv');
    fs.writeFileSync(
      csv,
      [
        'prompt,subject,target_new,ground_truth',
        '"Shirkche Kenmalflyst speaks",Shirkche Kenmalflyst,Greek,Icelandic',
        '"Nobody speaks",Someone Else,Greek,',
        '"Kerknost Paigruth plays the",Kerknost Paigruth,,oboe',
      ].join('\n'),
    );
    const r = await eac([
      'edit', '--model', path.join(FIXTURES, 'gpt2-world-a'), '--facts', csv, '--method', 'eac-rome', '--profile', 'gpt2-world-a',
      '--stats-samples', '200', '--eval-tasks', path.join(FIXTURES, 'world-a', 'tasks.jsonl'), '--eval-n', '4', '--json',
    ]);
    expect(r.stderr).not.toMatch(/Error:/);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const skips = lines.filter((l) => l.type === 'skip');
    expect(skips).toHaveLength(2);
    expect(skips.map((s) => s.row)).toEqual([3, 4]);
    const edits = lines.filter((l) => l.type === 'edit');
    expect(edits).toHaveLength(1);
    expect(edits[0].metrics[0].reliability).toBeGreaterThanOrEqual(0);
    expect(edits[0].norms[0]).toMatchObject({ layer: 2, tensor: 'h.2.mlp.c_proj.weight' });
    expect(edits[0].details.anchors.count).toBeGreaterThan(0);
    expect(edits[0].timings_ms.optimise).toBeGreaterThan(0);
    const health = lines.filter((l) => l.type === 'health');
    expect(health.map((h) => h.edits)).toEqual([0, 1]);
    expect(Object.keys(health[0].scores).sort()).toEqual(['nli', 'qa', 'sentiment', 'summarization']);
    const summary = lines[lines.length - 1];
    expect(summary).toMatchObject({ type: 'summary', method: 'eac-rome', edits: 1, skipped: 2 });
  });

  it('eac health reports the same world-a scores as eac edit --eval-tasks before any edit', async () => {
    const model = path.join(FIXTURES, 'gpt2-world-a');
    const tasks = path.join(REPO, 'resources', 'tasks', 'world-a.json');
    const h = await eac(['health', '--model', model, '--tasks', tasks, '--n', '12', '--json']);
    expect(h.code).toBe(0);
    const health = Object.fromEntries((JSON.parse(h.stdout).scores as { task: string; score: number }[]).map((s) => [s.task, s.score]));
    const e = await eac([
      'edit', '--model', model, '--facts', path.join(FIXTURES, 'world-a', 'edits.json'), '--method', 'rome', '--limit', '1',
      '--stats-samples', '200', '--eval-tasks', tasks, '--eval-n', '12', '--json',
    ]);
    expect(e.code).toBe(0);
    const first = e.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.type === 'health' && l.edits === 0);
    expect(first.scores).toEqual(health);
    expect(Object.keys(health)).toHaveLength(4);
  });

  it('rejects an unknown method with exit code 2 and one line', async () => {
    const r = await eac(['edit', '--model', path.join(FIXTURES, 'gpt2-world-a'), '--facts', 'x.json', '--method', 'bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--method must be one of rome, memit, eac-rome, eac-memit, alphaedit, eac-alphaedit, ft, ft-en/);
  });
});
