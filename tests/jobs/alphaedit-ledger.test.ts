// AlphaEdit's preserved second moment K_p K_pᵀ is model state the ledger can rebuild: every edit
// stores its keys, and after recording, reverting, removing with replay, the moment the model holds
// equals a fresh float64 recomputation from the live edits' keys; a replayed edit is bit for bit the
// edit a fresh ledger computes on the same live set.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { preservedKeysOf } from '../../src-main/engine/edit';
import { removeFromWorkspace, revertWorkspace } from '../../src-main/jobs/studio';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { QueueRunner } from '../../src-main/jobs/studio/runner';
import { fastProfile, GPT2, tmpDir, worldEdits } from './helpers';

/** Σ over the live edits (seq order) of K Kᵀ at `layer`, straight from the ledger's stored keys. */
function fresh(ws: Workspace, layer: number, F: number): Float64Array {
  const C = new Float64Array(F * F);
  for (const b of ws.ledger.livePreservedKeys(ws.modelId)) {
    if (b.layer !== layer) continue;
    for (let j = 0; j < b.n; j++)
      for (let a = 0; a < F; a++) {
        const ka = b.keys[j * F + a];
        if (ka === 0) continue;
        for (let c = 0; c < F; c++) C[a * F + c] += ka * b.keys[j * F + c];
      }
  }
  return C;
}

describe('AlphaEdit and the ledger', () => {
  const dir = tmpDir('eac-alphaedit-ledger-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cacheDir = path.join(dir, 'cache');
  const profile = fastProfile('gpt2-world-a');
  const reqs = worldEdits(3, 0);

  it('revert and remove + replay rebuild K_p K_pᵀ exactly; the replayed edit equals a fresh one on the same live set', async () => {
    const ws = await Workspace.open({ modelDir: GPT2, dbFile: path.join(dir, 'a.sqlite'), cacheDir });
    const F = ws.model.cfg.ffn;
    const layers = profile.alphaedit.layers;
    const state = () => preservedKeysOf(ws.model);
    const ids: number[] = [];
    try {
      let editor = ws.editorFor(profile);
      for (const r of reqs) {
        const res = await editor.edit('alphaedit', [r]);
        ids.push(ws.ledger.recordEdit(ws.modelId, res, { profile }).editId);
      }
      // the ledger holds each edit's keys, bit for bit what the model accumulated
      const stored = ws.ledger.livePreservedKeys(ws.modelId);
      expect(stored.map((b) => [b.editId, b.layer])).toEqual(ids.flatMap((id) => layers.map((l) => [id, l])));
      expect(stored.map((b) => b.keys)).toEqual(state().blocks().map((b) => b.keys));
      for (const l of layers) expect(state().accumulated(l, F)).toEqual(fresh(ws, l, F));
      const all3 = state().accumulated(layers[0], F);

      // revert to the first edit: the moment is the first edit's alone
      revertWorkspace(ws, 1);
      expect(state().blocks()).toHaveLength(layers.length);
      for (const l of layers) expect(state().accumulated(l, F)).toEqual(fresh(ws, l, F));
      expect(state().accumulated(layers[0], F)).not.toEqual(all3);
      // re-open: the state comes from the ledger alone
      await ws.close({ releaseModel: true });
    } catch (e) {
      await ws.close();
      throw e;
    }

    const ws2 = await Workspace.open({ modelDir: GPT2, dbFile: path.join(dir, 'a.sqlite'), cacheDir });
    try {
      const state2 = preservedKeysOf(ws2.model);
      for (const l of layers) expect(state2.accumulated(l, F)).toEqual(fresh(ws2, l, F));
      // edit 3 again on top of edit 1, then take edit 1 out with replay: the replay runs on an
      // empty moment and must equal the same edit made first on a fresh ledger
      const editor = ws2.editorFor(profile);
      const again = ws2.ledger.recordEdit(ws2.modelId, await editor.edit('alphaedit', [reqs[2]]), { profile }).editId;
      const rm = await removeFromWorkspace(ws2, ids[0], 'replay');
      expect(rm.replayed).toHaveLength(1);
      expect(ws2.ledger.livePreservedKeys(ws2.modelId).map((b) => b.editId)).toEqual(layers.map(() => rm.replayed[0]));
      for (const l of layers) expect(state2.accumulated(l, F)).toEqual(fresh(ws2, l, F));
      expect(again).not.toBe(rm.replayed[0]);

      const ws3 = await Workspace.open({ modelDir: GPT2, dbFile: path.join(dir, 'b.sqlite'), cacheDir, model: ws2.model });
      try {
        // ws3 shares the model: rebuild it from its own (empty) ledger first
        ws3.rebuild();
        const ed3 = ws3.editorFor(profile);
        const res = await ed3.edit('alphaedit', [reqs[2]]);
        const replayed = ws2.ledger.editFactors(rm.replayed[0]);
        expect(replayed.map((f) => f.layer)).toEqual(res.deltas.map((d) => d.layer));
        replayed.forEach((f, i) => {
          expect(f.Ut).toEqual(res.deltas[i].Ut);
          expect(f.Vt).toEqual(res.deltas[i].Vt);
        });
        ed3.unapply(res.deltas);
      } finally {
        await ws3.close({ releaseModel: false });
      }
      // back to the base model: no preserved keys at all
      ws2.rebuild();
      revertWorkspace(ws2, 0);
      expect(state2.blocks()).toHaveLength(0);
      expect(state2.accumulated(layers[0], F).every((v) => v === 0)).toBe(true);
    } finally {
      await ws2.close();
    }
  }, 600_000);

  it('a queue run with batch size 2: one EAC-AlphaEdit edit per 2 facts, one event listing both, reliability per fact, keys n = 2', async () => {
    const ws = await Workspace.open({ modelDir: GPT2, dbFile: path.join(dir, 'batch.sqlite'), cacheDir });
    try {
      const q = ws.ledger.queues.createQueue(ws.modelId, 'batch', 'eac-alphaedit', profile, worldEdits(4, 10));
      const res = await new QueueRunner(ws).run(q.id, { batchSize: 2 });
      expect(res.state).toBe('done');
      expect(res.editIds).toHaveLength(2);
      const items = ws.ledger.queues.queueItems(q.id);
      expect(items.map((i) => i.editId)).toEqual([res.editIds[0], res.editIds[0], res.editIds[1], res.editIds[1]]);
      const events = ws.ledger.events(ws.modelId, 'edit');
      expect(events.map((e) => (e.payload as { caseIds: string[] }).caseIds)).toEqual([worldEdits(2, 10).map((r) => r.caseId), worldEdits(2, 12).map((r) => r.caseId)]);
      const detail = ws.ledger.editDetail(res.editIds[0])!;
      expect(detail.metrics.map((m) => m.caseId)).toEqual(worldEdits(2, 10).map((r) => r.caseId));
      expect(ws.ledger.livePreservedKeys(ws.modelId).map((b) => b.n)).toEqual([...profile.alphaedit.layers, ...profile.alphaedit.layers].map(() => 2));
    } finally {
      await ws.close();
    }
  }, 600_000);
});
