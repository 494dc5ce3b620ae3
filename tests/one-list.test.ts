// One list of devices and one of edit methods (issue 20). engine/devices.ts DEVICES: every --device choice reads
// it, and no other file writes it out again beyond the named ones (files under rework in issue 20). The edit methods
// are engine/edit/types.ts EDIT_METHODS; the API's lists (api/methods.ts) are those arrays, not copies.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEVICE_NAMES, EDIT_METHOD_NAMES } from '../src-main/api/methods';
import { main } from '../src-main/cli/main';
import type { CliIO } from '../src-main/cli/command';
import { DEVICES, isDevice } from '../src-main/engine/devices';
import { EDIT_METHODS } from '../src-main/engine/edit/types';
import { parseServeArgs } from '../src-main/server/main';
import { REPO } from './engine/helpers';

/** Two device names next to each other, quoted or in a usage string: a list written out. */
const LIST = /['"`]?\b(cpu|webgpu|cuda)\b['"`]?\s*[,|]\s*['"`]?\b(cpu|webgpu|cuda)\b/;

/** Files that write the device list themselves: only the list's own file (runtime/session.ts's Device type reads it). */
const ALLOWED: Record<string, string> = {
  'src-main/engine/devices.ts': 'the list itself',
};

/** The edit method list written out: the two EAC variants side by side. */
const METHOD_LIST = /\beac-rome['"`]?\s*[,|]\s*['"`]?eac-memit\b/;

/** Files that write the method list: the list, and copies to read it in issue 20. */
const METHOD_ALLOWED: Record<string, string> = {
  'src-main/engine/edit/types.ts': 'the list itself (EditMethod and EDIT_METHODS)',
  // issue 20: eac edit's usage and help text spell the methods out (cli/commands/edit.ts is under rework)
  'src-main/cli/commands/edit.ts': 'issue 20: usage and --method help',
};

function sources(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : /\.(ts|svelte)$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

/** The files of src-main and src-renderer whose text matches `re`, repository-relative. */
function filesWriting(re: RegExp): string[] {
  return [...sources(path.join(REPO, 'src-main')), ...sources(path.join(REPO, 'src-renderer'))]
    .map((f) => path.relative(REPO, f).split(path.sep).join('/'))
    .filter((f) => re.test(fs.readFileSync(path.join(REPO, f), 'utf8')));
}

describe('the edit method list', () => {
  it('is written out in no file beyond the listed ones, and each listed one still holds it', () => {
    const copies = filesWriting(METHOD_LIST);
    expect(copies.filter((f) => !(f in METHOD_ALLOWED))).toEqual([]);
    expect(Object.keys(METHOD_ALLOWED).filter((f) => !copies.includes(f))).toEqual([]);
  });

  it("the API's EDIT_METHOD_NAMES is engine/edit's EDIT_METHODS itself, not a copy", () => {
    expect(EDIT_METHOD_NAMES).toBe(EDIT_METHODS);
  });
});

describe('the device list', () => {
  it('is written out in no file beyond the listed ones, and each listed one still holds it', () => {
    const copies = filesWriting(LIST);
    expect(copies.filter((f) => !(f in ALLOWED))).toEqual([]);
    // a listed file that no longer holds a copy: delete its line
    expect(Object.keys(ALLOWED).filter((f) => !copies.includes(f))).toEqual([]);
  });

  it("the API's DEVICE_NAMES is that list itself, not a copy", () => {
    expect(DEVICE_NAMES).toBe(DEVICES);
  });

  it('isDevice accepts exactly the listed names', () => {
    for (const d of DEVICES) expect(isDevice(d)).toBe(true);
    for (const x of ['tpu', 'CPU', '', undefined, 3]) expect(isDevice(x)).toBe(false);
  });

  it('headless mode takes --device from the list and names the choices when it is not on it', () => {
    for (const d of DEVICES) expect(parseServeArgs(['--device', d]).device).toBe(d);
    expect(() => parseServeArgs(['--device', 'tpu'])).toThrow(`--device must be one of ${DEVICES.join(', ')}, got "tpu"`);
  });

  it('eac ledger revert refuses an unknown --device with exit 2 before opening anything', async () => {
    let err = '';
    const io: CliIO = { out: () => {}, err: (s) => void (err += s), cwd: REPO, env: process.env };
    // the ledger file need not exist: the device is checked before the ledger is read
    const code = await main(['ledger', 'revert', '1', '--db', path.join(REPO, 'no-such.sqlite'), '--device', 'tpu'], io);
    expect([code, err]).toEqual([2, expect.stringContaining(`--device must be one of ${DEVICES.join(', ')}, got "tpu"`)]);
  });

  it('the CLI usage lines offer the list', async () => {
    for (const cmd of ['generate', 'logits']) {
      let out = '';
      const io: CliIO = { out: (s) => void (out += s), err: (s) => void (out += s), cwd: REPO, env: process.env };
      await main([cmd, '--help'], io);
      expect(out).toContain(`--device ${DEVICES.join('|')}`);
    }
  });
});
