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
    // the engine's one cancellation shape (cancelledError), not an ExportError of its own (issue 20)
    await expect(p).rejects.toMatchObject({ code: 'cancelled', name: 'AbortError' });
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(root).filter((n) => n.startsWith('.exp-partial'))).toEqual([]);
    expect(tree(partial)).toEqual(before);
    // a plain export next to it
    await exportWorkspace(ws, out);
    expect(fs.existsSync(path.join(out, 'model.safetensors'))).toBe(true);
    expect(tree(partial)).toEqual(before);
  });

  it('a previous export of this ledger is replaced in place; with files the export did not write it is not', async () => {
    const out = path.join(root, 'exp-marker');
    const first = await exportWorkspace(ws, out);
    const m1 = JSON.parse(fs.readFileSync(path.join(out, 'edits.json'), 'utf8'));
    expect(m1.format).toBe(EXPORT_FORMAT);
    expect(m1.exportId).toMatch(/^[0-9a-f]{32}$/);
    expect(first.exportId).toBe(m1.exportId);
    // the ledger records the id and every file written, edits.json included, with its hash
    const rec = ws.ledger.findExport(m1.exportId)!;
    expect(rec.files.map((f) => f.name).sort()).toEqual(fs.readdirSync(out).sort());
    for (const f of rec.files) expect(f.sha256, f.name).toBe(sha(path.join(out, f.name)));
    fs.writeFileSync(path.join(out, 'stale-extra.txt'), 'left by the user');
    expect((await refused(out, 'not_export')).message).toMatch(new RegExp(`an entry that export ${m1.exportId} did not write \\(stale-extra\\.txt\\)`));
    expect(fs.readFileSync(path.join(out, 'stale-extra.txt'), 'utf8')).toBe('left by the user');
    fs.rmSync(path.join(out, 'stale-extra.txt'));
    const inode = fs.statSync(out).ino;
    const second = await exportWorkspace(ws, out, { overwrite: true });
    expect(second.outDir).toBe(first.outDir);
    const m2 = JSON.parse(fs.readFileSync(path.join(out, 'edits.json'), 'utf8'));
    expect(m2.exportId).not.toBe(m1.exportId);
    expect(m2.exportId).toBe(second.exportId);
    // the folder itself stays (files moved into it), holding exactly the new export's files
    expect(fs.statSync(out).ino).toBe(inode);
    expect(fs.readdirSync(out).sort()).toEqual([...m2.files.map((f: { name: string }) => f.name), 'edits.json'].sort());
    // nothing moved aside or half-written is left beside it
    expect(fs.readdirSync(root).filter((n) => n.startsWith('.exp-marker'))).toEqual([]);
    // and the re-export can be replaced again (its id is recorded now)
    await exportWorkspace(ws, out, { overwrite: true });
    // an empty folder may be written into too; it stays the same folder
    const empty = path.join(root, 'exp-empty');
    fs.mkdirSync(empty);
    const emptyIno = fs.statSync(empty).ino;
    await exportWorkspace(ws, empty, { overwrite: true });
    expect(fs.existsSync(path.join(empty, 'edits.json'))).toBe(true);
    expect(fs.statSync(empty).ino).toBe(emptyIno);
  });

  it('a hand-made edits.json is not a licence to delete (issue 19 item 7): thesis.tex and a user folder survive, exit 2 naming them', async () => {
    const mine = path.join(root, 'looks-like-export');
    fs.mkdirSync(path.join(mine, 'notes'), { recursive: true });
    fs.writeFileSync(path.join(mine, 'thesis.tex'), 'chapter 1');
    fs.writeFileSync(path.join(mine, 'notes', 'todo.txt'), 'write chapter 2');
    const handMade = { format: EXPORT_FORMAT, files: [{ name: 'thesis.tex', bytes: 9, sha256: sha(path.join(mine, 'thesis.tex')) }, { name: 'notes' }] };
    fs.writeFileSync(path.join(mine, 'edits.json'), JSON.stringify(handMade));
    const before = tree(mine);
    const r = await eac(['ledger', 'export', mine, '--db', db, '--overwrite']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/its edits\.json carries no export id/);
    expect(r.err).toMatch(/Nothing was deleted/);
    expect(tree(mine)).toEqual(before);
    // a real export's id copied into the hand-made manifest: the files that export wrote are known, and these are not them
    const real = path.join(root, 'exp-real');
    const { exportId } = await exportWorkspace(ws, real);
    fs.writeFileSync(path.join(mine, 'edits.json'), JSON.stringify({ ...handMade, exportId }));
    const e = await refused(mine, 'not_export');
    expect(e.message).toContain(`that export ${exportId} did not write (notes, thesis.tex)`);
    expect(fs.readFileSync(path.join(mine, 'thesis.tex'), 'utf8')).toBe('chapter 1');
    expect(fs.readFileSync(path.join(mine, 'notes', 'todo.txt'), 'utf8')).toBe('write chapter 2');
    // an id this ledger never wrote
    fs.writeFileSync(path.join(mine, 'edits.json'), JSON.stringify({ ...handMade, exportId: 'f'.repeat(32) }));
    expect((await refused(mine, 'not_export')).message).toMatch(/its export id f{32} is not recorded in the ledger .*ledger\.sqlite/);
    expect(fs.readFileSync(path.join(mine, 'thesis.tex'), 'utf8')).toBe('chapter 1');
  });

  it('a real previous export with a user folder under a name it wrote, or a changed file, is refused with nothing deleted', async () => {
    const out = path.join(root, 'exp-tampered');
    const { exportId } = await exportWorkspace(ws, out);
    // the user replaced the export's README.md with a folder of their own
    fs.rmSync(path.join(out, 'README.md'));
    fs.mkdirSync(path.join(out, 'README.md'));
    fs.writeFileSync(path.join(out, 'README.md', 'mine.txt'), 'my notes');
    let before = tree(out);
    expect((await refused(out, 'not_export')).message).toContain(`README.md is a folder, not the file export ${exportId} wrote`);
    expect(tree(out)).toEqual(before);
    fs.rmSync(path.join(out, 'README.md'), { recursive: true });
    // a file of the export the user edited since (same size, other bytes)
    const cfg = path.join(out, 'config.json');
    const text = fs.readFileSync(cfg, 'utf8');
    fs.writeFileSync(cfg, text.replace(/"/, "'"));
    before = tree(out);
    expect((await refused(out, 'not_export')).message).toMatch(new RegExp(`config\\.json changed since export ${exportId} wrote it \\(sha256 [0-9a-f]{64}, it wrote [0-9a-f]{64}\\)`));
    expect(tree(out)).toEqual(before);
    // a symlink in place of a file it wrote
    fs.writeFileSync(cfg, text);
    fs.rmSync(path.join(out, 'tokenizer.json'));
    fs.symlinkSync(path.join(model, 'tokenizer.json'), path.join(out, 'tokenizer.json'));
    expect((await refused(out, 'not_export')).message).toContain('tokenizer.json is a symbolic link');
    expect(tree(model)).toEqual(modelTree);
    // with the link gone (a file of the export missing is fine: nothing to remove), the overwrite goes ahead
    fs.rmSync(path.join(out, 'tokenizer.json'));
    await exportWorkspace(ws, out, { overwrite: true });
    expect(fs.existsSync(path.join(out, 'tokenizer.json'))).toBe(true);
  });

  it("another ledger's export is not replaced", async () => {
    const other = tmpDir('eac-export-other-');
    try {
      const out = path.join(root, 'exp-for-other');
      const { exportId } = await exportWorkspace(ws, out);
      const ws2 = await Workspace.open({ modelDir: model, workspaceDir: path.join(other, 'ws'), cacheDir: path.join(root, 'cache') });
      try {
        const before = tree(out);
        const e = await exportWorkspace(ws2, out, { overwrite: true }).then(() => null, (x) => x as Error & { code?: string });
        expect(e?.code).toBe('not_export');
        expect(e!.message).toContain(`its export id ${exportId} is not recorded in the ledger`);
        expect(tree(out)).toEqual(before);
      } finally {
        await ws2.close();
      }
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
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
