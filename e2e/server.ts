// Headless mode for the browser specs: start `src-main/server/main.ts` on a random port with a given
// data folder (no model), stop it, keep its log when a spec fails; and the Chromium they drive.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './flow';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian Chromium, headless, without the background traffic a first run starts. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface HeadlessServer {
  proc: ChildProcess;
  /** the URL with its access token, as the server prints it */
  url: string;
  port: number;
  token: string;
  /** everything the server printed so far */
  log: () => string;
}

/** Starts headless mode; resolves once it prints its URL (60 s at most), rejects if it exits first. */
export function startServer(dataDir: string): Promise<HeadlessServer> {
  const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const proc = spawn(process.execPath, [tsx, path.join(ROOT, 'src-main', 'server', 'main.ts'), '--port', '0', '--data', dataDir, '--no-model'], {
    cwd: ROOT,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not print its URL in 60 s:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /Open: (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([\w-]+))/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1], port: Number(m[2]), token: m[3], log: () => out });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before it was ready:\n${out}`));
    });
  });
}

/** Stops a server still running: SIGTERM, then SIGKILL if it has not exited half a second later. */
export async function stopServer(server: HeadlessServer | null): Promise<void> {
  const proc = server?.proc;
  if (!proc || proc.exitCode !== null) return;
  proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

/** Writes the server's output to test-results/e2e/<name>-server.log (after a failed step). */
export function saveServerLog(server: HeadlessServer | null, name: string): void {
  if (server) fs.writeFileSync(path.join(ROOT, 'test-results', 'e2e', `${name}-server.log`), server.log());
}
