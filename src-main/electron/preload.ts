// Sandboxed preload (CommonJS, contextIsolation on): exposes exactly one object, `window.eac`,
// with four functions (call, cancel, on, and pickPath for the native folder dialog). No Node, no ipcRenderer, no arbitrary channels reach the page.
import { IPC, type CallProgress, type CallReply, type EacBridge, type HostEvent, type PickPathKind } from '../api/wire';

interface PreloadElectron {
  contextBridge: { exposeInMainWorld(key: string, api: unknown): void };
  ipcRenderer: {
    invoke(channel: string, ...args: unknown[]): Promise<unknown>;
    on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): void;
  };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { contextBridge, ipcRenderer } = require('electron') as PreloadElectron;

const listeners = new Map<string, Set<(payload: unknown) => void>>();

ipcRenderer.on(IPC.event, (_e, ev) => {
  const { name, payload } = (ev ?? {}) as HostEvent;
  if (typeof name !== 'string') return;
  for (const cb of listeners.get(name) ?? []) {
    try {
      cb(payload);
    } catch {
      /* a renderer listener's error stays in the renderer */
    }
  }
});

const bridge: EacBridge = {
  transport: 'electron',
  call(method: string, params: unknown, callId: number): Promise<CallReply> {
    if (typeof method !== 'string') return Promise.resolve({ ok: false, error: { message: 'method must be a string', code: 'bad_params' } });
    return ipcRenderer.invoke(IPC.call, { callId, method, params }) as Promise<CallReply>;
  },
  cancel(callId: number): Promise<boolean> {
    return ipcRenderer.invoke(IPC.cancel, { callId }) as Promise<boolean>;
  },
  pickPath(kind: PickPathKind): Promise<string | null> {
    if (kind !== 'model' && kind !== 'export') return Promise.resolve(null);
    return ipcRenderer.invoke(IPC.pickPath, { kind }) as Promise<string | null>;
  },
  on(name: string, cb: (payload: unknown) => void): () => void {
    if (typeof name !== 'string' || typeof cb !== 'function') return () => {};
    let set = listeners.get(name);
    if (!set) listeners.set(name, (set = new Set()));
    set.add(cb);
    return () => {
      set.delete(cb);
    };
  },
};

export type { CallProgress };
contextBridge.exposeInMainWorld('eac', bridge);
