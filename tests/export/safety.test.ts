// Export never deletes what it does not own (issue 12): one test per case the probe found, plus the
// rules behind them. A copy of the GPT-2 fixture lives in <tmp>/models/gpt2-world-a so that a wrong
// deletion could only hit the copy; the ledger and workspace are <tmp>/ws.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_FORMAT } from '../../src-main/engine/export';
import { exportWorkspace } from '../../src-main/jobs/studio/ops';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { fastProfile, GPT2, tmpDir, worldEdits, runEac } from '../jobs/helpers';

const eac = (args: string[]) => runEac(args, { ...process.env, EAC_DEBUG: '' });

/** Every file under dir (relative path -> sha256), to prove a folder was left exactly as it was. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** the CLI's own error lines (progress output aside) */
const ownLines = (stderr: string) => stderr.split(/[\n\r]/).filter((l) => l.startsWith('eac '));

const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

describe('export safety', () => {
  const root = tmpDir('eac-export-safety-');
  const models = path.join(root, 'models');
  const model = path.join(models, 'gpt2-world-a');
  const wsDir = path.join(root, 'ws');
  const db = path.join(wsDir, 'ledger.sqlite');
  let ws: Workspace;
  let modelTree: Record<string, string>;

  beforeAll(async () => {
    fs.mkdirSync(models);
    fs.cpSync(GPT2, model, { recursive: true });
    ws = await Workspace.open({ modelDir: model, workspaceDir: wsDir, dbFile: db, cacheDir: path.join(root, 'cache') });
    const profile = fastProfile('gpt2-world-a');
    const editor = ws.editorFor(profile);
    const [r] = worldEdits(1);
    ws.ledger.recordEdit(ws.modelId, await editor.edit('rome', [r]), { profile });
    modelTree = tree(model);
  });
  afterAll(async () => {
    await ws?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const refused = async (outDir: string, code: string, overwrite = true) => {
    const e = await exportWorkspace(ws, outDir, { overwrite }).then(
      () => null,
      (x) => x as Error & { code?: string },
    );
    expect(e, `export to ${outDir} should be refused`).not.toBeNull();
    expect(e!.code).toBe(code);
    return e!;
  };

  it('over the workspace folder (CLI, --overwrite): refused with exit 2, the open ledger intact', async () => {
    // the ledger is open for writing by `ws` in this process; the CLI shares the writer lock within a process
    const before = tree(wsDir);
    const r = await eac(['ledger', 'export', wsDir, '--db', db, '--overwrite']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/refusing to export to .*ws.*: it (is|contains) the (ledger|workspace folder)/);
    expect(ownLines(r.err)).toHaveLength(1);
    expect(fs.existsSync(db)).toBe(true);
    expect(Object.keys(tree(wsDir)).sort()).toEqual(Object.keys(before).sort());
    expect(ws.ledger.integrityCheck()).toEqual([]);
    // the ledger file itself, and a folder above the workspace
    await refused(db, 'unsafe_target');
    await refused(root, 'unsafe_target');
  });

  it("over the models' parent folder and into the model folder: refused, the base model untouched", async () => {
    const e = await refused(models, 'unsafe_target');
    expect(e.message).toContain('contains the model folder');
    await refused(model, 'unsafe_target');
    await refused(path.join(model, 'sub'), 'unsafe_target', false);
    // a name starting with two dots is still inside
    await refused(path.join(model, '..x'), 'unsafe_target', false);
    expect(tree(model)).toEqual(modelTree);
  });

  it('through a symlink: the real path is checked', async () => {
    const link = path.join(root, 'link-to-ws');
    fs.symlinkSync(wsDir, link);
    await refused(link, 'unsafe_target');
    const link2 = path.join(root, 'link-to-models');
    fs.symlinkSync(models, link2);
    await refused(path.join(link2, 'gpt2-world-a'), 'unsafe_target');
    expect(fs.existsSync(db)).toBe(true);
    expect(tree(model)).toEqual(modelTree);
  });

  it('over an unrelated non-empty folder with overwrite: refused, every file kept', async () => {
    const mine = path.join(root, 'my-documents');
    fs.mkdirSync(path.join(mine, 'deep'), { recursive: true });
    fs.writeFileSync(path.join(mine, 'thesis.tex'), 'chapter 1');
    fs.writeFileSync(path.join(mine, 'deep', 'data.csv'), '1,2,3');
    const before = tree(mine);
    const e = await refused(mine, 'not_export');
    expect(e.message).toMatch(/not empty and has no edits\.json/);
    expect(tree(mine)).toEqual(before);
    // a folder that claims to be an export but is not ours in format
    fs.writeFileSync(path.join(mine, 'edits.json'), JSON.stringify({ format: 'something-else' }));
    expect((await refused(mine, 'not_export')).message).toMatch(/not an EAC Studio export manifest/);
    expect(fs.readFileSync(path.join(mine, 'thesis.tex'), 'utf8')).toBe('chapter 1');
    // without overwrite any existing folder is refused
    await refused(mine, 'exists', false);
  });

  it('a pre-existing <outDir>.partial is left intact by a plain export and by a failed one', async () => {
    const out = path.join(root, 'exp-partial');
    const partial = `${out}.partial`;
    fs.mkdirSync(partial);
    fs.writeFileSync(path.join(partial, 'precious.bin'), 'not yours');
    const before = tree(partial);
    // a failed (cancelled) export removes only its own scratch folder
    const ac = new AbortController();
    const p = exportWorkspace(ws, out, { signal: ac.signal, onProgress: () => ac.abort() });
    await expect(p).rejects.toMatchObject({ code: 'cancelled' });
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(root).filter((n) => n.startsWith('.exp-partial'))).toEqual([]);
    expect(tree(partial)).toEqual(before);
    // a plain export next to it
    await exportWorkspace(ws, out);
    expect(fs.existsSync(path.join(out, 'model.safetensors'))).toBe(true);
    expect(tree(partial)).toEqual(before);
  });

  it('a folder carrying the export marker is replaced; with files the export did not write it is not', async () => {
    const out = path.join(root, 'exp-marker');
    const first = await exportWorkspace(ws, out);
    const m1 = JSON.parse(fs.readFileSync(path.join(out, 'edits.json'), 'utf8'));
    expect(m1.format).toBe(EXPORT_FORMAT);
    fs.writeFileSync(path.join(out, 'stale-extra.txt'), 'left by the user');
    expect((await refused(out, 'not_export')).message).toMatch(/files the export did not write \(stale-extra\.txt\)/);
    fs.rmSync(path.join(out, 'stale-extra.txt'));
    await new Promise((r) => setTimeout(r, 5)); // a different createdAt
    const second = await exportWorkspace(ws, out, { overwrite: true });
    expect(second.outDir).toBe(first.outDir);
    const m2 = JSON.parse(fs.readFileSync(path.join(out, 'edits.json'), 'utf8'));
    expect(m2.createdAt).not.toBe(m1.createdAt);
    // nothing moved aside or half-written is left beside it
    expect(fs.readdirSync(root).filter((n) => n.startsWith('.exp-marker'))).toEqual([]);
    // an export written before edits.json listed its files: replaced when it holds only what an export writes
    const old = path.join(root, 'exp-old');
    fs.cpSync(out, old, { recursive: true });
    const legacy = { ...m2 };
    delete legacy.files;
    fs.writeFileSync(path.join(old, 'edits.json'), JSON.stringify(legacy));
    fs.writeFileSync(path.join(old, 'thesis.tex'), 'mine');
    expect((await refused(old, 'not_export')).message).toMatch(/thesis\.tex/);
    fs.rmSync(path.join(old, 'thesis.tex'));
    await exportWorkspace(ws, old, { overwrite: true });
    expect(JSON.parse(fs.readFileSync(path.join(old, 'edits.json'), 'utf8')).files.length).toBeGreaterThan(0);
    // an empty folder may be written into too
    const empty = path.join(root, 'exp-empty');
    fs.mkdirSync(empty);
    await exportWorkspace(ws, empty, { overwrite: true });
    expect(fs.existsSync(path.join(empty, 'edits.json'))).toBe(true);
  });

  it('every exported file is hashed in edits.json; no absolute local path unless asked; files 0600 in a 0700 folder', async () => {
    const out = path.join(root, 'exp-hash');
    await exportWorkspace(ws, out);
    const text = fs.readFileSync(path.join(out, 'edits.json'), 'utf8');
    const m = JSON.parse(text);
    const names = fs.readdirSync(out).filter((n) => n !== 'edits.json').sort();
    expect(m.files.map((f: { name: string }) => f.name).sort()).toEqual(names);
    for (const f of m.files) {
      expect(f.sha256, f.name).toBe(sha(path.join(out, f.name)));
      expect(f.bytes).toBe(fs.statSync(path.join(out, f.name)).size);
    }
    expect(text).not.toContain(root);
    expect(m.base.path).toBe('gpt2-world-a');
    expect(m.ledger).toBe('ledger.sqlite');
    const meta = fs.readFileSync(path.join(out, 'model.safetensors')).subarray(0, 64 << 10).toString('latin1');
    expect(meta).not.toContain(root);
    expect(fs.statSync(out).mode & 0o777).toBe(0o700);
    for (const n of fs.readdirSync(out)) expect(fs.statSync(path.join(out, n)).mode & 0o777, n).toBe(0o600);

    const abs = path.join(root, 'exp-abs');
    await exportWorkspace(ws, abs, { absolutePaths: true });
    const ma = JSON.parse(fs.readFileSync(path.join(abs, 'edits.json'), 'utf8'));
    expect(ma.base.path).toBe(ws.model.ck.dir);
    expect(ma.ledger).toBe(db);
  });

  // Node's recursive mkdir loops forever on /proc/nope/...: the export must fail on the first error (the test timeout bounds it)
  it('an impossible path fails once, with a clear error naming it (CLI exit 1), leaving nothing behind', async () => {
    const e = await refused('/proc/nope', 'io_error', false);
    expect(e.message).toContain('/proc/nope');
    expect(e.message).toMatch(/ENOENT|EACCES|EPERM|no such file|permission/i);
    const exportsBefore = ws.ledger.events(ws.modelId, 'export').length;
    const r = await eac(['ledger', 'export', '/proc/nope/deeper', '--db', db]);
    expect(r.code, r.err).toBe(1);
    expect(ownLines(r.err)).toHaveLength(1);
    expect(r.err).toContain('/proc/nope');
    // no export was recorded for it
    expect(ws.ledger.events(ws.modelId, 'export').length).toBe(exportsBefore);
  });

  // the model card is read whole (it is rewritten with the edits): a bounded read, refused by size before reading
  it('a model card above 16 MiB in the model folder fails the export (file_too_large, naming it), leaving nothing behind', async () => {
    const card = path.join(model, 'README.md');
    fs.writeFileSync(card, '');
    fs.truncateSync(card, (16 << 20) + 1); // sparse: costs no disk
    try {
      const out = path.join(root, 'big-card-out');
      const e = await refused(out, 'file_too_large', false);
      expect(e.message).toContain(`${card}: the model card is 16.0 MiB, more than the 16.0 MiB`);
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.readdirSync(root).filter((n) => n.includes('big-card-out'))).toEqual([]);
    } finally {
      fs.rmSync(card);
    }
  });
});
