// The installer configuration, checked without running electron-builder (it downloads Electron,
// which this machine cannot): electron-builder.yml passes electron-builder's own schema; every
// native file npm installed is unpacked from the asar; the files the app loads at run time are
// packed; `npm run dist` builds then packages; and the afterPack hook really flips the fuses, on a
// stand-in binary carrying Electron's fuse wire (sentinel + version + length + one byte per fuse).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FuseState, FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { minimatch } from 'minimatch';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src-main/engine/paths';
import { tmpDir } from '../jobs/helpers';

const ROOT = packageRoot();
const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(s: string): unknown };

interface BuilderConfig {
  files: string[];
  asarUnpack: string[];
  npmRebuild: boolean;
  afterPack: string;
  linux: { target: string[] };
  directories: { output: string };
}
const config = yaml.load(fs.readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8')) as BuilderConfig;

/** electron-builder's file-set semantics: included by some pattern and not excluded by a later "!" one. */
function packed(rel: string, patterns: string[]): boolean {
  let inc = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (minimatch(rel, p.slice(1), { dot: true })) inc = false;
    } else if (minimatch(rel, p, { dot: true })) inc = true;
  }
  return inc;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

describe('electron-builder.yml', () => {
  it("passes electron-builder's configuration schema (and the schema rejects an unknown key)", async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
      validateConfiguration(c: unknown, log: unknown): Promise<void>;
    };
    const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
    await validateConfiguration(structuredClone(config), new DebugLogger(false));
    await expect(validateConfiguration({ ...structuredClone(config), notAnOption: 1 }, new DebugLogger(false))).rejects.toThrow(/configuration/);
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.npmRebuild).toBe(true); // better-sqlite3 rebuilt for Electron's ABI
  });

  it('unpacks every native file npm installed (bindings and the ORT shared libraries, WebGPU/CUDA providers included)', () => {
    const natives = [
      ...walk(path.join(ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release')).filter((f) => f.endsWith('.node')),
      ...walk(path.join(ROOT, 'node_modules', 'onnxruntime-node', 'bin')).filter((f) => /\.(node|so(\.\d+)*|dll|dylib)$/.test(f)),
    ].map((f) => path.relative(ROOT, f).split(path.sep).join('/'));
    expect(natives.some((f) => f.endsWith('better_sqlite3.node'))).toBe(true);
    expect(natives.some((f) => f.endsWith('onnxruntime_binding.node'))).toBe(true);
    expect(natives.some((f) => /libonnxruntime\.so/.test(f))).toBe(true);
    for (const f of natives) expect(packed(f, config.asarUnpack), f).toBe(true);
  });

  it('packs what the app loads at run time, and no sources, tests or test bundles', () => {
    for (const f of [
      'package.json',
      'out/main/index.js',
      'out/main/engine.js',
      'out/preload/index.cjs',
      'out/renderer/index.html',
      'out/renderer/assets/index-abc.js',
      'resources/demo-model/model.safetensors',
      'resources/profiles/gpt2-world-a.json',
      'migrations/001_init.sql',
    ])
      expect(packed(f, config.files), f).toBe(true);
    for (const f of ['src-main/electron/main.ts', 'tests/shared.ts', 'out/main/index.js.map', 'out/.test-bundle-1/main/index.js', 'node_modules/electron/index.js'])
      expect(packed(f, config.files), f).toBe(false);
    // the demo model is read by path at run time, so it is unpacked too
    expect(packed('resources/demo-model/model.safetensors', config.asarUnpack)).toBe(true);
    // the files the config names exist in the checkout (migrations, demo model)
    expect(fs.existsSync(path.join(ROOT, 'migrations', '001_init.sql'))).toBe(true);
    expect(fs.existsSync(path.join(ROOT, 'resources', 'demo-model', 'model.safetensors'))).toBe(true);
  });

  it('`npm run dist` builds with electron-vite, then packages with this config', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { main: string; scripts: Record<string, string> };
    expect(pkg.main).toBe('out/main/index.js');
    expect(pkg.scripts.dist).toMatch(/electron-vite build.*&&.*electron-builder.*--config electron-builder\.yml/);
    expect(fs.existsSync(path.resolve(ROOT, config.afterPack))).toBe(true);
  });
});

describe('afterPack: fuses', () => {
  const dir = tmpDir('eac-fuses-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('flips RunAsNode off, cookie encryption on, asar-only on, NODE_OPTIONS and --inspect off, file:// privileges off', async () => {
    // a stand-in for the packed binary: Electron's defaults on the wire (RunAsNode on, cookie
    // encryption off, NODE_OPTIONS on, inspect on, asar integrity off, asar-only off, V8 snapshot
    // off, file:// privileges on, wasm trap handlers on)
    const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
    const defaults = '101100011';
    const bin = Buffer.concat([Buffer.alloc(4096, 0x90), Buffer.from(SENTINEL), Buffer.from([1, defaults.length]), Buffer.from(defaults), Buffer.alloc(4096, 0x90)]);
    const exe = path.join(dir, 'eac-studio');
    fs.writeFileSync(exe, bin);
    const hook = (await import(pathToFileURL(path.resolve(ROOT, config.afterPack)).href)) as { afterPack(ctx: unknown): Promise<void> };
    await hook.afterPack({
      appOutDir: dir,
      electronPlatformName: 'linux',
      arch: 1,
      packager: { executableName: 'eac-studio', appInfo: { productFilename: 'EAC Studio' } },
    });
    const wire = (await getCurrentFuseWire(exe)) as unknown as Record<number, number>;
    expect(wire[FuseV1Options.RunAsNode]).toBe(FuseState.DISABLE);
    expect(wire[FuseV1Options.EnableCookieEncryption]).toBe(FuseState.ENABLE);
    expect(wire[FuseV1Options.EnableNodeOptionsEnvironmentVariable]).toBe(FuseState.DISABLE);
    expect(wire[FuseV1Options.EnableNodeCliInspectArguments]).toBe(FuseState.DISABLE);
    expect(wire[FuseV1Options.OnlyLoadAppFromAsar]).toBe(FuseState.ENABLE);
    expect(wire[FuseV1Options.GrantFileProtocolExtraPrivileges]).toBe(FuseState.DISABLE);
    // fuses it does not set keep Electron's value
    expect(wire[FuseV1Options.WasmTrapHandlers]).toBe(FuseState.ENABLE);
    // and nothing else in the file moved
    const after = fs.readFileSync(exe);
    expect(after.length).toBe(bin.length);
    expect(after.subarray(0, 4096 + SENTINEL.length + 2).equals(bin.subarray(0, 4096 + SENTINEL.length + 2))).toBe(true);
  });
});
