// Picks the transport: the Electron preload's window.eac, or a WebSocket to the headless server
// this page was served from (token taken from the page URL).
import type { CallReply, ClientFrame, EacBridge, ServerFrame } from '../../../src-main/api/wire';
import { ApiError } from './api-error';

declare global {
  interface Window {
    eac?: EacBridge;
  }
}

type Listener = (payload: unknown) => void;

/** EacBridge over a WebSocket; reconnects with back-off, failing the calls that were in flight. */
export class WsBridge implements EacBridge {
  readonly transport = 'websocket' as const;
  private ws: WebSocket | null = null;
  private opening: Promise<WebSocket> | null = null;
  private replies = new Map<number, (r: CallReply) => void>();
  private cancels = new Map<number, (b: boolean) => void>();
  private listeners = new Map<string, Set<Listener>>();
  private retryMs = 250;
  closedByUser = false;

  constructor(private url: string) {}

  private connect(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return Promise.resolve(this.ws);
    if (this.opening) return this.opening;
    this.opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.url);
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.ws = ws;
        this.opening = null;
        this.retryMs = 250;
        this.emit('connection', { connected: true });
        resolve(ws);
      };
      ws.onmessage = (m) => this.onFrame(m.data as string);
      ws.onclose = (ev) => {
        this.ws = null;
        this.opening = null;
        for (const [, r] of this.replies) r({ ok: false, error: { message: `connection to the app lost (${ev.code})`, code: 'disconnected' } });
        this.replies.clear();
        for (const [, c] of this.cancels) c(false);
        this.cancels.clear();
        if (!opened) reject(new ApiError(`cannot connect to ${this.url.replace(/token=[^&]+/, 'token=…')} (${ev.code})`, 'disconnected'));
        this.emit('connection', { connected: false, code: ev.code });
        if (!this.closedByUser && opened) {
          const wait = this.retryMs;
          this.retryMs = Math.min(this.retryMs * 2, 5000);
          setTimeout(() => void this.connect().catch(() => {}), wait);
        }
      };
    });
    return this.opening;
  }

  private onFrame(text: string): void {
    let f: ServerFrame;
    try {
      f = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    if (f.type === 'reply') {
      this.replies.get(f.callId)?.(f.reply);
      this.replies.delete(f.callId);
    } else if (f.type === 'cancelled') {
      this.cancels.get(f.callId)?.(f.cancelled);
      this.cancels.delete(f.callId);
    } else if (f.type === 'event') {
      this.emit(f.event.name, f.event.payload);
    }
  }

  private emit(name: string, payload: unknown): void {
    for (const cb of this.listeners.get(name) ?? []) {
      try {
        cb(payload);
      } catch (e) {
        console.error(e);
      }
    }
  }

  private async send(f: ClientFrame): Promise<void> {
    const ws = await this.connect();
    ws.send(JSON.stringify(f));
  }

  call(method: string, params: unknown, callId: number): Promise<CallReply> {
    return new Promise<CallReply>((resolve) => {
      this.replies.set(callId, resolve);
      this.send({ type: 'call', callId, method, params }).catch((e: Error) => {
        this.replies.delete(callId);
        resolve({ ok: false, error: { message: e.message, code: 'disconnected' } });
      });
    });
  }

  cancel(callId: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.cancels.set(callId, resolve);
      this.send({ type: 'cancel', callId }).catch(() => {
        this.cancels.delete(callId);
        resolve(false);
      });
    });
  }

  on(name: string, cb: Listener): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(cb);
    return () => set.delete(cb);
  }
}

export function pickBridge(): EacBridge {
  if (typeof window !== 'undefined' && window.eac && typeof window.eac.call === 'function') return window.eac;
  const token = new URLSearchParams(location.search).get('token') ?? '';
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return new WsBridge(`${proto}//${location.host}/api?token=${encodeURIComponent(token)}`);
}
