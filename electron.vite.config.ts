// electron-vite: main (+ the engine process entry as a second entry, engine.js next to index.js:
// Electron's main runs it as a utilityProcess when packaged, on Node otherwise), a sandboxed
// CommonJS preload, and the Svelte renderer. Native modules stay external (node_modules, unpacked
// from the asar and rebuilt for Electron by electron-builder.yml).
//
// Electron is an optional dependency and may be absent (ELECTRON_SKIP_BINARY_DOWNLOAD, or not
// installed at all). electron-vite reads electron/package.json to pick its build targets; without
// it we pin the major version ourselves so `npm run build` works on any machine.
import { createRequire } from 'node:module';
import path from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'electron-vite';

const ELECTRON_FALLBACK_MAJOR = '38';
if (!process.env.ELECTRON_MAJOR_VER) {
  try {
    createRequire(import.meta.url).resolve('electron/package.json');
  } catch {
    process.env.ELECTRON_MAJOR_VER = ELECTRON_FALLBACK_MAJOR;
  }
}

const root = path.dirname(new URL(import.meta.url).pathname);
const r = (p: string) => path.resolve(root, p);

export default defineConfig({
  main: {
    build: {
      outDir: r('out/main'),
      target: 'node22',
      sourcemap: true,
      rollupOptions: {
        input: {
          index: r('src-main/electron/main.ts'),
          // the engine process (its studio handlers are compiled in), found next to index.js by main.ts
          engine: r('src-main/jobs/engine-process.ts'),
        },
        output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: r('out/preload'),
      target: 'node22',
      rollupOptions: {
        input: { index: r('src-main/electron/preload.ts') },
        // sandboxed preloads cannot be ES modules
        output: { format: "cjs", entryFileNames: "[name].cjs", codeSplitting: false },
      },
    },
  },
  renderer: {
    root: r('src-renderer'),
    base: './',
    plugins: [svelte()],
    build: {
      outDir: r('out/renderer'),
      target: 'chrome130',
      emptyOutDir: true,
      rollupOptions: { input: r('src-renderer/index.html') },
    },
  },
});
