// The wire format of the renderer boundary, shared by the Electron main/preload, the headless
// WebSocket server and the renderer's transports (so it lives in api/, beside the contract, and not in either transport
// — the renderer reaches it through api/ only). Plain data only.

/** IPC channel names (Electron). */
export const IPC = {
  call: 'eac:call',
  cancel: 'eac:cancel',
  event: 'eac:event',
  pickPath: 'eac:pick-path',
} as const;

export interface ErrorReply {
  message: string;
  /** an engine/errors.ts ERROR_CODES code (or a foreign error's own) */
  code?: string;
  /** the error's structured detail, unchanged */
  detail?: Record<string, unknown>;
}

/** A call's outcome. Errors travel as data (Electron would otherwise rewrite their messages). */
export type CallReply = { ok: true; result: unknown } | { ok: false; error: ErrorReply };

/** Progress of one call (callId chosen by the renderer). */
export interface CallProgress {
  callId: number;
  phase: string;
  fraction: number;
  message?: string;
}

/** A pushed event: `progress` (CallProgress) or a contract event name with its payload. */
export interface HostEvent {
  name: string;
  payload: unknown;
}

/**
 * Events the UI host itself sends (beside the contract's studio events): the engine process died
 * (`engine.exited`) and a new one is serving again, with the last workspace reopened from its
 * ledger (`engine.restarted`).
 */
export const HOST_EVENTS = { engineExited: 'engine.exited', engineRestarted: 'engine.restarted' } as const;

export interface EngineExitedEvent {
  pid?: number;
  message: string;
  exitCode: number | null;
  signal: string | null;
  /** a new engine process is being started */
  restarting: boolean;
}

export interface EngineRestartedEvent {
  pid?: number;
  /** the model folder reopened, or null when none was open */
  reopened: string | null;
  /** the reopened workspace (the contract's WorkspaceInfo) */
  workspace?: unknown;
  /** why reopening failed, when it did */
  error?: string;
}

/** A model folder opened before (headless mode lists them beside the typed path). */
export interface RecentModel {
  dir: string;
  device?: string;
  openedAt: number;
}

/** Methods the UI host answers itself, beside the contract's studio methods. */
export interface HostMethods {
  'models.recent': { params: Record<string, never>; result: { models: RecentModel[] } };
}
export const HOST_METHODS: readonly (keyof HostMethods)[] = ['models.recent'];

/** What the Electron app's native dialog picks: a model folder to open, or a folder to export into. */
export type PickPathKind = 'model' | 'export';

/** What the preload exposes as `window.eac`; the WebSocket transport implements the same. */
export interface EacBridge {
  /** kind of transport, for the status bar */
  readonly transport: 'electron' | 'websocket';
  call(method: string, params: unknown, callId: number): Promise<CallReply>;
  cancel(callId: number): Promise<boolean>;
  /** subscribe to an event name ('progress' or a contract event); returns the unsubscribe function */
  on(name: string, cb: (payload: unknown) => void): () => void;
  /** Electron only: the native folder dialog; resolves with the chosen folder or null (cancelled) */
  pickPath?(kind: PickPathKind): Promise<string | null>;
}

/** WebSocket frames (headless mode). */
export type ClientFrame =
  | { type: 'call'; callId: number; method: string; params: unknown }
  | { type: 'cancel'; callId: number };

export type ServerFrame =
  | { type: 'reply'; callId: number; reply: CallReply }
  | { type: 'cancelled'; callId: number; cancelled: boolean }
  | { type: 'event'; event: HostEvent }
  | { type: 'hello'; version: number };
