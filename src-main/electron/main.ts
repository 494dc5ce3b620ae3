// Electron main process: hardened windows, the app:// protocol, native folder dialogs, and IPC glue
// to the engine through ApiHost (which validates every call with the contract before the engine
// sees it). The engine is a separate process (src-main/jobs/engine-process): on the Node that runs
// npm under `npm start` (its natives match that Node), as a utilityProcess in the packaged app (its
// natives rebuilt for Electron by electron-builder). This process loads no native module, and a
// crash or OOM of the engine leaves the window up: ApiHost starts a new engine and reopens the
// workspace (tests/electron/main-bundle.test.ts checks the built bundle for native imports).
//
// Security checklist: contextIsolation, sandbox, no nodeIntegration, no webviews; the renderer is
// served from app://eac (custom standard+secure scheme) with a real CSP header, not file://;
// navigation / redirects / frame navigations allowed only to that exact origin (parsed URL);
// window.open denied; permissions denied; IPC only from our own top frame; a single instance; fuses
// (build/after-pack.mjs) in the packaged app. The pure decisions are in ./security.
//
// Electron is an optional dependency, so this file does not import its types: the few APIs used
// are described below and loaded with require() at run time.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isInside } from '../host/static-files';
import { ApiHost } from '../host/api-host';
import { IPC, type CallReply, type HostEvent, type PickPathKind } from '../api/wire';
import { utilityProcessSpawner, type UtilityProcessModuleLike } from './engine-channel';
import {
  allowNavigation,
  APP_INDEX_URL,
  APP_SCHEME,
  APP_SCHEME_PRIVILEGES,
  appResponseHeaders,
  isTrustedSender,
  resolveAppFile,
} from './security';

interface NavigationEventLike {
  url: string;
  preventDefault(): void;
}
interface WebContentsLike {
  id: number;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
  setWindowOpenHandler(h: (d: { url: string }) => { action: 'deny' | 'allow' }): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
}
interface BrowserWindowLike {
  webContents: WebContentsLike;
  loadURL(url: string): Promise<void>;
  once(event: string, listener: () => void): void;
  on(event: string, listener: () => void): void;
  show(): void;
  focus(): void;
  restore(): void;
  isMinimized(): boolean;
  isDestroyed(): boolean;
}
interface IpcMainEventLike {
  sender: WebContentsLike;
  senderFrame: { url: string; parent: unknown } | null;
}
interface ElectronMain {
  app: {
    whenReady(): Promise<void>;
    on(event: string, listener: (...args: unknown[]) => void): void;
    quit(): void;
    isPackaged: boolean;
    requestSingleInstanceLock(): boolean;
    enableSandbox(): void;
  };
  BrowserWindow: (new (opts: unknown) => BrowserWindowLike) & { fromWebContents(wc: WebContentsLike): BrowserWindowLike | null };
  ipcMain: {
    handle(channel: string, h: (e: IpcMainEventLike, arg: unknown) => unknown): void;
  };
  protocol: {
    registerSchemesAsPrivileged(schemes: unknown[]): void;
    handle(scheme: string, h: (req: { url: string; method: string }) => Response | Promise<Response>): void;
  };
  dialog: {
    showOpenDialog(win: BrowserWindowLike | undefined, opts: { title: string; properties: string[]; buttonLabel?: string }): Promise<{ canceled: boolean; filePaths: string[] }>;
  };
  session: {
    defaultSession: {
      setPermissionRequestHandler(h: (wc: unknown, perm: string, cb: (ok: boolean) => void) => void): void;
      setPermissionCheckHandler(h: () => boolean): void;
    };
  };
  utilityProcess: UtilityProcessModuleLike;
}

const require = createRequire(import.meta.url);
const electron = require('electron') as ElectronMain;
const { app, BrowserWindow, ipcMain, protocol, dialog, session } = electron;

const here = path.dirname(fileURLToPath(import.meta.url));
const RENDERER_DIR = path.resolve(here, '../renderer');
const PRELOAD = path.resolve(here, '../preload/index.cjs');
/** the bundled engine entry (electron.vite.config.ts builds it next to this file) */
const ENGINE_ENTRY = pathToFileURL(path.join(here, 'engine.js'));

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(flag + '='));
  return eq ? eq.slice(flag.length + 1) : undefined;
}

const dataDir = argValue('--data') ?? process.env.EAC_DATA_DIR;
if (dataDir) {
  fs.mkdirSync(dataDir, { recursive: true });
  process.env.EAC_DATA_DIR = path.resolve(dataDir); // inherited by the engine process
}
const startModel = argValue('--model') ?? process.env.EAC_MODEL_DIR;

// must happen before 'ready'
protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
app.enableSandbox();

let host: ApiHost | null = null;
/** open windows by webContents id; pruned on 'closed' */
const windows = new Map<number, BrowserWindowLike>();

/** Only our own top-level page may call in. */
function trustedSender(e: IpcMainEventLike): boolean {
  const frame = e.senderFrame;
  return !!frame && isTrustedSender(frame.url, !frame.parent);
}

/** Navigation guards for any webContents (windows, and anything else that gets created). */
function guard(wc: WebContentsLike): void {
  wc.setWindowOpenHandler(() => ({ action: 'deny' }));
  for (const ev of ['will-navigate', 'will-redirect', 'will-frame-navigate']) {
    wc.on(ev, (...args: unknown[]) => {
      const e = args[0] as NavigationEventLike;
      // Electron >= 25 puts the target on the event; older signatures pass it as the 2nd argument
      const url = typeof e?.url === 'string' ? e.url : String(args[1] ?? '');
      if (!allowNavigation(url)) e.preventDefault();
    });
  }
  wc.on('will-attach-webview', (...args: unknown[]) => (args[0] as { preventDefault(): void }).preventDefault());
}

function createWindow(): BrowserWindowLike {
  const win = new BrowserWindow({
    width: 1360,
    height: 900,
    show: false,
    title: 'EAC Studio',
    backgroundColor: '#0f1419',
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      spellcheck: false,
    },
  });
  const id = win.webContents.id;
  windows.set(id, win);
  win.on('closed', () => windows.delete(id));
  // navigation guards come from 'web-contents-created' (every webContents, this one included)
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_INDEX_URL);
  return win;
}

function focusSomeWindow(): void {
  const win = [...windows.values()].find((w) => !w.isDestroyed());
  if (!win) {
    createWindow();
    return;
  }
  if (win.isMinimized()) win.restore();
  win.show();
  win.focus();
}

/** Serves out/renderer on app://eac with the CSP header; nothing outside that folder (symlinks included). */
function serveRenderer(): void {
  const root = fs.realpathSync(RENDERER_DIR);
  protocol.handle(APP_SCHEME, async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return new Response('method not allowed', { status: 405 });
    const file = resolveAppFile(root, req.url);
    if (!file) return new Response('forbidden', { status: 403 });
    let real: string;
    try {
      real = fs.realpathSync(file);
    } catch {
      return new Response('not found', { status: 404 });
    }
    // a symlink inside the folder must not lead out of it
    if (!isInside(root, real) || !fs.statSync(real).isFile()) return new Response('not found', { status: 404 });
    const body = await fs.promises.readFile(real);
    return new Response(req.method === 'HEAD' ? null : body, { status: 200, headers: appResponseHeaders(real) });
  });
}

async function pickPath(e: IpcMainEventLike, kind: PickPathKind): Promise<string | null> {
  const win = BrowserWindow.fromWebContents(e.sender) ?? undefined;
  const r = await dialog.showOpenDialog(
    win,
    kind === 'model'
      ? { title: 'Open a Hugging Face model folder', properties: ['openDirectory'], buttonLabel: 'Open model' }
      : { title: 'Export the edited checkpoint into…', properties: ['openDirectory', 'createDirectory', 'promptToCreate'], buttonLabel: 'Export here' },
  );
  return r.canceled ? null : (r.filePaths[0] ?? null);
}

async function boot(): Promise<void> {
  await app.whenReady();
  serveRenderer();
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  ses.setPermissionCheckHandler(() => false);

  host = new ApiHost({
    log: (l) => console.log(`[eac] ${l}`),
    engineOptions: {
      entry: ENGINE_ENTRY,
      // packaged: Electron's utilityProcess (natives rebuilt for Electron); otherwise a Node child
      // process on $EAC_ENGINE_NODE (set by `npm start`) whose natives npm built
      ...(app.isPackaged ? { spawn: utilityProcessSpawner(electron.utilityProcess) } : {}),
    },
  });
  const h = host;
  const send = (wc: WebContentsLike, ev: HostEvent) => {
    if (!wc.isDestroyed()) wc.send(IPC.event, ev);
  };
  h.subscribe((ev) => {
    for (const w of windows.values()) if (!w.isDestroyed()) send(w.webContents, ev);
  });

  ipcMain.handle(IPC.call, async (e, arg): Promise<CallReply> => {
    if (!trustedSender(e)) return { ok: false, error: { message: 'call refused: untrusted sender', code: 'forbidden' } };
    const a = (arg ?? {}) as { callId?: unknown; method?: unknown; params?: unknown };
    if (typeof a.callId !== 'number') return { ok: false, error: { message: 'callId must be a number', code: 'bad_params' } };
    return h.call(`wc${e.sender.id}`, a.callId, a.method, a.params, (ev) => send(e.sender, ev));
  });
  ipcMain.handle(IPC.cancel, async (e, arg): Promise<boolean> => {
    if (!trustedSender(e)) return false;
    const callId = (arg as { callId?: unknown } | null)?.callId;
    if (typeof callId !== 'number') return false;
    return h.cancel(`wc${e.sender.id}`, callId);
  });
  ipcMain.handle(IPC.pickPath, async (e, arg): Promise<string | null> => {
    if (!trustedSender(e)) return null;
    const kind = (arg as { kind?: unknown } | null)?.kind;
    if (kind !== 'model' && kind !== 'export') return null;
    return pickPath(e, kind);
  });

  createWindow();
  if (startModel) {
    const reply = await h.call('startup', 0, 'workspace.open', { modelDir: path.resolve(startModel) }, () => {});
    if (!reply.ok) console.error(`could not open ${startModel}: ${reply.error.message}`);
  }
  app.on('activate', () => {
    if (windows.size === 0) createWindow();
  });
}

if (!app.requestSingleInstanceLock()) {
  // another EAC Studio is running (it owns the ledgers' writer locks): hand over and leave
  app.quit();
} else {
  app.on('second-instance', () => focusSomeWindow());
  app.on('window-all-closed', () => {
    void (host?.close() ?? Promise.resolve()).finally(() => app.quit());
  });
  app.on('web-contents-created', (...args: unknown[]) => guard(args[1] as WebContentsLike));
  boot().catch((e) => {
    console.error('EAC Studio failed to start:', e);
    app.quit();
  });
}
