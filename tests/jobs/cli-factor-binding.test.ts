// Issue 19 item 6, from the command line: a factor row moved to another layer in SQL (its bytes intact, so the old
// bytes-only checksum still matched and the export applied the edit to the wrong layer) is refused by `ledger list`,
// `ledger export` and `ledger revert`, each naming the edit; nothing is exported.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { fastProfile, GPT2, runEac, tmpDir, worldEdits } from './helpers';

describe('eac ledger on a ledger whose factor row was moved to another layer', () => {
  const dir = tmpDir('eac-cli-binding-');
  const db = path.join(dir, 'ledger.sqlite');
  let editId = 0;
  let layer = 0;
  beforeAll(async () => {
    process.env.EAC_CACHE_DIR = path.join(dir, 'cache');
    const ws = await Workspace.open({ modelDir: GPT2, dbFile: db, cacheDir: path.join(dir, 'cache') });
    const profile = fastProfile('gpt2-world-a');
    const editor = ws.editorFor(profile);
    editId = ws.ledger.recordEdit(ws.modelId, await editor.edit('rome', worldEdits(1, 60)), { profile }).editId;
    await ws.close();
    // the attack: move the edit to another layer of the same shape, lifting the append-only guard for it
    const raw = new Database(db);
    layer = (raw.prepare('SELECT layer FROM edit_factors WHERE edit_id = ?').get(editId) as { layer: number }).layer;
    raw.exec('DROP TRIGGER edit_factors_no_update');
    raw.prepare('UPDATE edit_factors SET layer = ? WHERE edit_id = ?').run(layer === 0 ? 1 : layer - 1, editId);
    raw.exec(`CREATE TRIGGER edit_factors_no_update BEFORE UPDATE ON edit_factors BEGIN SELECT RAISE(ABORT, 'edit_factors is append-only'); END`);
    raw.close();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const refusedNaming = (r: { code: number; err: string }) => {
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(`of edit ${editId} (seq 1)`);
    expect(r.err).toMatch(/was moved: its bytes are intact but the edit, layer, tensor, rank or shape it is filed under changed/);
  };

  it('ledger list fails naming the edit', async () => {
    refusedNaming(await runEac(['ledger', 'list', '--db', db]));
    refusedNaming(await runEac(['ledger', 'list', '--db', db, '--json']));
  });

  it('ledger export fails naming the edit and writes nothing', async () => {
    const out = path.join(dir, 'export');
    refusedNaming(await runEac(['ledger', 'export', out, '--db', db]));
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(dir).filter((n) => n.includes('export'))).toEqual([]);
  });

  it('ledger revert fails naming the edit', async () => {
    refusedNaming(await runEac(['ledger', 'revert', '0', '--db', db]));
  });
});
