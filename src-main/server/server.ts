// Headless mode: the built renderer (out/renderer) and the studio API over a WebSocket, on the
// loopback interface only, for GPU boxes reached over SSH (ssh -L PORT:127.0.0.1:PORT box).
//
// Access control:
//  - bound to 127.0.0.1; the Host header must name 127.0.0.1/localhost:PORT (DNS rebinding);
//  - a random token: required as ?token= on the page URL (which then sets an HttpOnly SameSite
//    cookie for the page's own assets) and as ?token= on the WebSocket handshake;
//  - the WebSocket handshake's Origin must be this server's own origin;
//  - everything else gets 403. Strict CSP, no framing, no sniffing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ClientFrame, HostEvent, ServerFrame } from '../api/wire';
import type { ApiHost } from '../host/api-host';
import { contentType, resolveRequestPath } from '../host/static-files';
import { MAX_MESSAGE_BYTES } from '../api/validate';
import { EacError } from '../engine/errors';

export interface ServerOptions {
  host: ApiHost;
  /** folder with the built renderer (index.html) */
  staticDir: string;
  /** 0 = a random free port */
  port?: number;
  /** default: 32 random bytes, base64url */
  token?: string;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const COOKIE = 'eac_token';
/**
 * Size limits. A call (one WebSocket message) may carry MAX_MESSAGE_BYTES (16 MiB, the contract's
 * limit on an imported file's text too); a larger one is answered with a clear error for its
 * callId. Beyond twice that, ws closes the connection (1009) without buffering the rest. Request
 * URLs over MAX_URL_BYTES get 414; headers are capped by node's maxHeaderSize (16 KiB).
 */
const MAX_FRAME = 2 * MAX_MESSAGE_BYTES;
const MAX_URL_BYTES = 8 * 1024;

function safeEqual(a: string | undefined | null, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function cookieToken(req: http.IncomingMessage): string | undefined {
  const c = req.headers.cookie;
  if (!c) return undefined;
  for (const part of c.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) {
      try {
        return decodeURIComponent(v.join('='));
      } catch {
        return undefined; // a malformed %-escape is no token
      }
    }
  }
  return undefined;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const token = opts.token ?? crypto.randomBytes(32).toString('base64url');
  const log = opts.log ?? (() => {});
  const staticDir = path.resolve(opts.staticDir);
  if (!fs.existsSync(path.join(staticDir, 'index.html'))) {
    throw new EacError('not_built', `no built renderer in ${staticDir} (run \`npm run build\` first)`);
  }
  let port = opts.port ?? 0;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  const csp = () =>
    [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "font-src 'self'",
      `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
      "object-src 'none'",
    ].join('; ');

  const deny = (res: http.ServerResponse, status: number, msg: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(msg + '\n');
  };

  const server = http.createServer((req, res) => {
    try {
      if (!allowedHosts().has(req.headers.host ?? '')) return deny(res, 403, 'forbidden: unexpected Host header');
      if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'method not allowed');
      if ((req.url ?? '').length > MAX_URL_BYTES) return deny(res, 414, `URI too long (at most ${MAX_URL_BYTES} bytes)`);
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      const given = url.searchParams.get('token') ?? cookieToken(req);
      if (!safeEqual(given, token)) return deny(res, 403, 'forbidden: missing or wrong token (open the URL the server printed)');
      // the same path rules as the Electron app:// handler (host/static-files.ts)
      const found = resolveRequestPath(staticDir, url.pathname);
      if ('refused' in found) return found.refused === 'malformed' ? deny(res, 400, 'bad request: malformed %-escape in the path') : deny(res, 403, 'forbidden');
      const file = found.file;
      // the page itself needs the token in its own address: its script takes the WebSocket's token
      // from there. Served on the cookie alone (the same browser, the URL without ?token) it was an
      // empty shell saying "connection lost (1006)"; the cookie is for the page's assets only.
      if (file === path.join(staticDir, 'index.html') && !safeEqual(url.searchParams.get('token'), token))
        return deny(res, 403, 'forbidden: this page needs the token in its address; open the URL the server printed (http://127.0.0.1:PORT/?token=...)');
      let st: fs.Stats;
      try {
        st = fs.statSync(file);
      } catch {
        return deny(res, 404, 'not found');
      }
      if (!st.isFile()) return deny(res, 404, 'not found');
      const headers: http.OutgoingHttpHeaders = {
        'content-type': contentType(file),
        'content-length': st.size,
        'content-security-policy': csp(),
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        'cache-control': 'no-store',
      };
      if (url.searchParams.has('token')) headers['set-cookie'] = `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
      res.writeHead(200, headers);
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).pipe(res);
    } catch (e) {
      deny(res, 500, `internal error: ${(e as Error).message}`);
    }
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  let clientSeq = 0;

  server.on('upgrade', (req, socket, head) => {
    const reject = (status: number, why: string) => {
      log(`websocket refused: ${why}`);
      socket.write(`HTTP/1.1 ${status} Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${why}\n`);
      socket.destroy();
    };
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (!allowedHosts().has(req.headers.host ?? '')) return reject(403, 'unexpected Host header');
    if (url.pathname !== '/api') return reject(404, 'not found');
    if (!allowedOrigins().has(req.headers.origin ?? '')) return reject(403, 'origin not allowed');
    if (!safeEqual(url.searchParams.get('token'), token)) return reject(403, 'missing or wrong token');
    wss.handleUpgrade(req, socket, head, (ws) => onClient(ws));
  });

  function onClient(ws: WebSocket): void {
    const clientKey = `ws${++clientSeq}`;
    const send = (f: ServerFrame) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(f));
    };
    const toClient = (event: HostEvent) => send({ type: 'event', event });
    const unsubscribe = opts.host.subscribe(toClient);
    send({ type: 'hello', version: 1 });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003, 'text frames only');
      const size = Array.isArray(data) ? data.reduce((a, b) => a + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
      if (size > MAX_MESSAGE_BYTES) {
        // too large to parse: answer the call it names (the renderer writes callId first) or close
        const head = (Array.isArray(data) ? data[0] : Buffer.from(data as ArrayBuffer)).subarray(0, 200).toString('latin1');
        const m = /"callId"\s*:\s*(\d{1,15})/.exec(head);
        const why = `message too large: ${size} bytes, at most ${MAX_MESSAGE_BYTES} per call`;
        log(`websocket call refused: ${why}`);
        if (!m) return ws.close(1009, why.slice(0, 120));
        return send({ type: 'reply', callId: Number(m[1]), reply: { ok: false, error: { message: why, code: 'too_large' } } });
      }
      let f: ClientFrame;
      try {
        f = JSON.parse(data.toString()) as ClientFrame;
      } catch {
        return ws.close(1007, 'invalid JSON');
      }
      if (!f || typeof f !== 'object' || !Number.isSafeInteger((f as { callId?: unknown }).callId)) return ws.close(1008, 'bad frame');
      if (f.type === 'call') {
        void opts.host.call(clientKey, f.callId, f.method, f.params, toClient).then((reply) => send({ type: 'reply', callId: f.callId, reply }));
      } else if (f.type === 'cancel') {
        void opts.host.cancel(clientKey, f.callId).then((cancelled) => send({ type: 'cancelled', callId: f.callId, cancelled }));
      } else {
        ws.close(1008, 'bad frame');
      }
    });
    ws.on('close', unsubscribe);
    ws.on('error', unsubscribe);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/?token=${token}`;
  return {
    url,
    port,
    token,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
