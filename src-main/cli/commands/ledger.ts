// `eac ledger list|show|revert|remove|export --db FILE ... [--json]`: thin over the studio workspace code.
// list/show open the ledger read-only (the file must exist; nothing is written, no writer lock);
// revert/remove/export open the workspace, which takes the ledger's writer lock. Errors keep their
// codes so main() picks the exit code (2 bad input, 1 other failures).
import path from 'node:path';
import { LedgerError, openLedger, type Ledger, type ModelRecord } from '../../store';
import { exportWorkspace, removeFromWorkspace, revertWorkspace } from '../../jobs/studio/ops';
import { Workspace } from '../../jobs/studio/workspace';
import { choiceOption, defineCommand, optionalString, printJson, requireString, UsageError, type CliIO } from '../command';
import { DEVICES } from '../engine';

function pickModel(ledger: Ledger, modelDir: string | undefined, cwd: string): ModelRecord {
  const models = ledger.listModels();
  if (models.length === 0) throw new UsageError('usage', `the ledger ${ledger.file} has no model yet`);
  if (modelDir) {
    const m = ledger.findModelByPath(path.resolve(cwd, modelDir));
    if (!m) throw new UsageError('usage', `the ledger has no model at ${path.resolve(cwd, modelDir)} (it has: ${models.map((x) => x.path).join(', ')})`);
    return m;
  }
  return models[models.length - 1];
}

export default defineCommand({
  name: 'ledger',
  summary: 'the edit ledger: list, show, revert, remove, export',
  usage: [
    'ledger list --db FILE [--model DIR] [--json]',
    'ledger show EDIT_ID --db FILE [--json]',
    'ledger revert SEQ --db FILE [--note TEXT] [--json]',
    'ledger remove EDIT_ID --mode drop|replay --db FILE [--json]',
    'ledger export OUT_DIR --db FILE [--overwrite] [--absolute-paths] [--json]',
  ].join('\n       eac '),
  help: [
    'Options:',
    '  --db FILE        the ledger (SQLite)',
    '  --model DIR      which model of the ledger (default: the newest one)',
    '  --mode M         remove: drop (fast, approximate when later edits exist) or replay (exact, re-runs later edits)',
    '  --device D       revert/remove/export: device for the rebuilt model (cpu default)',
    '  --overwrite      export: replace an existing OUT_DIR: only an empty folder, or an unchanged previous export',
    '                   recorded in this ledger (its export id); only that export\'s files are removed',
    '  --absolute-paths export: write the model folder and ledger as absolute paths into edits.json (default: names)',
    '  --json           JSON output',
    '',
    'revert/remove/export open the model folder recorded in the ledger and verify its weight hashes first;',
    'they take the ledger\'s writer lock (one writing program at a time). list/show only read (nothing is written or',
    'left beside the ledger, also on a read-only or full disk); list fails, naming the edit, when a stored factor no',
    'longer matches its checksum (bytes, or the edit / layer / tensor it is filed under).',
    'An export never replaces the model folder, the ledger, its folder, or a folder that is not a previous export',
    'of this ledger, and never deletes a folder.',
  ].join('\n'),
  allowPositionals: true,
  options: {
    db: { type: 'string', multiple: true },
    model: { type: 'string', multiple: true },
    mode: { type: 'string', multiple: true },
    note: { type: 'string', multiple: true },
    device: { type: 'string', multiple: true },
    overwrite: { type: 'boolean' },
    'absolute-paths': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(values, pos, io: CliIO) {
    const [sub, arg] = pos;
    const db = path.resolve(io.cwd, requireString(values, 'db'));
    const json = !!values.json;
    const subs = ['list', 'show', 'revert', 'remove', 'export'];
    if (!subs.includes(sub)) throw new UsageError('usage', `ledger: give a subcommand (${subs.join(', ')})`);
    // checked before any file is read, so a mistyped device is named rather than handed to onnxruntime
    const device = choiceOption(values, 'device', DEVICES, 'cpu');
    const num = (what: string) => {
      if (arg === undefined || !/^\d+$/.test(arg)) throw new UsageError('usage', `ledger ${sub}: ${what} must be a non-negative integer, got ${arg === undefined ? 'nothing' : `"${arg}"`}`);
      return Number(arg);
    };
    if (sub === 'list' || sub === 'show') {
      const ledger = openLedger(db, { readOnly: true });
      try {
        const m = pickModel(ledger, optionalString(values, 'model'), io.cwd);
        if (sub === 'list') {
          // a history whose factors no longer match their checksums (bytes, or the edit / layer they are filed
          // under) would list edits that revert, export and rebuild refuse: say so instead, naming each edit
          const corrupt = ledger.verifyFactors(m.id);
          if (corrupt.length)
            throw new LedgerError('factor_corrupt', `the ledger ${db} fails its checksums (${corrupt.length} factor row${corrupt.length > 1 ? 's' : ''}):\n  ${corrupt.join('\n  ')}`);
          const h = ledger.history(m.id);
          if (json) printJson(io, { model: m.path, modelId: m.id, edits: h.edits, events: h.events });
          else {
            io.out(`model ${m.path} (id ${m.id}): ${h.edits.length} edits, ${h.edits.filter((e) => e.active).length} live\n`);
            for (const e of h.edits)
              io.out(
                `${e.active ? '*' : ' '} seq ${e.seq} edit ${e.id} ${e.method} layers ${e.layers.join(',')} [${e.requests.map((r) => r.caseId).join(',')}] ` +
                  `reliability ${e.metrics.map((x) => x.reliability.toFixed(2)).join('/') || '-'}${e.approximate ? ' (approximate)' : ''} ${e.createdAt}\n`,
              );
          }
        } else {
          const d = ledger.editDetail(num('EDIT_ID'));
          if (!d) throw new UsageError('usage', `no edit ${arg} in ${db}`);
          if (json) printJson(io, d);
          else io.out(JSON.stringify(d, null, 2) + '\n');
        }
      } finally {
        ledger.close();
      }
      return 0;
    }
    // revert / remove / export need the rebuilt model
    const probe = openLedger(db, { readOnly: true });
    let modelDir: string;
    try {
      modelDir = pickModel(probe, optionalString(values, 'model'), io.cwd).path;
    } finally {
      probe.close();
    }
    // a broken model folder, a hash mismatch: bad input (exit 2); the writer lock held elsewhere, I/O: exit 1
    const ws = await Workspace.open({ modelDir, dbFile: db, device, onProgress: (p, f) => !json && p === 'hash' && io.err(`\rhashing ${(f * 100).toFixed(0)}%${f >= 1 ? '\n' : ''}`) });
    try {
      let result: unknown;
      if (sub === 'revert') result = revertWorkspace(ws, num('SEQ'), optionalString(values, 'note'));
      else if (sub === 'remove') {
        const mode = optionalString(values, 'mode');
        if (mode !== 'drop' && mode !== 'replay') throw new UsageError('usage', 'ledger remove: --mode drop|replay is required');
        result = await removeFromWorkspace(ws, num('EDIT_ID'), mode, { note: optionalString(values, 'note'), onProgress: (p, f, m) => !json && io.err(`${p} ${(f * 100).toFixed(0)}% ${m ?? ''}\n`) });
      } else {
        if (!arg) throw new UsageError('usage', 'ledger export: give OUT_DIR');
        const r = await exportWorkspace(ws, path.resolve(io.cwd, arg), {
          overwrite: !!values.overwrite,
          absolutePaths: !!values['absolute-paths'],
          onProgress: (f) => !json && io.err(`\rexport ${(f * 100).toFixed(0)}%${f >= 1 ? '\n' : ''}`),
        });
        // weights in another format hold the unedited model: say plainly that they are not in the export
        // (stderr, so stdout stays the JSON result, which lists them under "omitted" too)
        if (!json) for (const f of r.omitted) io.err(`left out ${f.file}: ${f.reason}\n`);
        result = r;
      }
      if (json) printJson(io, result);
      else io.out(JSON.stringify(result, null, 2) + '\n');
    } finally {
      await ws.close();
    }
    return 0;
  },
});
