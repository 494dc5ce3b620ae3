// scripts/experiment.ts runs on the product's queue runner (issue 20: one pipeline for the app, the CLI and the
// experiment). A tiny run: its edits are recorded in each method's ledger by the runner, a request the editor
// refuses is counted as skipped, a batch is cut at a checkpoint, and the numbers equal the engine's own edit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Editor, loadProfile, statsProvider } from '../../src-main/engine/edit';
import { loadTaskFile } from '../../src-main/engine/eval/tasks';
import { parseFacts } from '../../src-main/engine/facts';
import type { EditRequest } from '../../src-main/engine/facts/types';
import { resourcesDir } from '../../src-main/engine/paths';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { openLedger } from '../../src-main/store';
import { runExperiment } from '../../scripts/experiment/run';
import { FIXTURES } from '../shared';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-experiment-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cacheDir = path.join(tmp, 'cache');
const modelDir = path.join(FIXTURES, 'gpt2-world-a');
const all = parseFacts('edits.json', fs.readFileSync(path.join(FIXTURES, 'world-a', 'edits.json'), 'utf8')).requests;
// the subject is not in the prompt: the editor's check refuses it, and the runner marks it invalid
const bad: EditRequest = { ...all[2], caseId: 'bad', prompt: 'Nobody plays the sport of', subject: 'Someone Else' };

describe('the experiment on the queue runner', () => {
  it('records every edit through the runner, counts the refused request, cuts the batch at the checkpoint, and matches a direct edit', async () => {
    const profile = loadProfile('gpt2-world-a');
    profile.stats.samples = 400;
    const tasks = loadTaskFile(path.join(resourcesDir(), 'tasks', 'world-a.json')).slice(0, 1);
    const out = path.join(tmp, 'out', 'run.json');
    const ledgerDir = path.join(tmp, 'ledgers');
    fs.mkdirSync(ledgerDir);
    const res = await runExperiment({
      modelDir,
      profile,
      variant: 'default',
      methods: ['rome', 'memit'],
      requests: [all[0], bad, all[1]],
      checkpoints: [2],
      batchSize: 2,
      tasks,
      evalN: 2,
      out,
      ledgerDir,
      cacheDir,
    });
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual(res);
    expect(res.edits).toBe(3);
    expect(Object.keys(res.health0)).toEqual([tasks[0].id]);
    for (const m of res.methods) {
      expect(m.skipped).toBe(1);
      // checkpoint 2 holds the first request only (the second was refused); the last holds both
      expect(m.checkpoints.map((c) => c.edits)).toEqual([1, 2]);
      expect(Object.keys(m.checkpoints[1].health)).toEqual([tasks[0].id]);
    }
    // memit batches 2, but the checkpoint after request 2 cuts its batch: two edits, one per segment,
    // each recorded (with its queue item done) in the method's ledger
    for (const method of ['rome', 'memit']) {
      const ledger = openLedger(path.join(ledgerDir, `${method}.sqlite`));
      try {
        const model = ledger.listModels()[0];
        expect(ledger.liveEdits(model.id).map((e) => e.requests.map((r) => r.caseId))).toEqual([[all[0].caseId], [all[1].caseId]]);
      } finally {
        ledger.close();
      }
    }
    const rome = res.methods.find((m) => m.method === 'rome')!;
    expect(rome.l1Series.map((p) => p.edits)).toEqual([1, 3]);

    // the same first edit made by the engine directly, on a fresh model, gives the same numbers
    const model = LoadedModel.open(modelDir);
    try {
      const editor = new Editor(model, profile, statsProvider(model, profile, { cacheDir }));
      const direct = await editor.edit('rome', [all[0]]);
      const c = rome.checkpoints[0];
      expect(c.immediate).toEqual({ reliability: direct.metrics[0].reliability, generalization: direct.metrics[0].generalization, locality: direct.metrics[0].locality });
      expect(c.l1GrowthPct).toEqual(Object.fromEntries(direct.norms.map((n) => [`L${n.layer}`, n.l1GrowthPct])));
    } finally {
      await model.release();
    }
  });
});
