// workspace.*, devices.list, profiles.*, stats.*
import path from 'node:path';
import type { DeviceAvailability, QueueSummary, StatsComputeParams, StatsEntry, WorkspaceInfo, WorkspaceOpenParams } from '../../api/contract';
import { DEVICES } from '../../engine/devices';
import { bundledProfiles, loadProfile } from '../../engine/edit';
import { keyStats, modelContentHash } from '../../engine/edit/stats';
import { listCachedStats } from '../../engine/edit/stats';
import { assertInside } from '../../engine/fs-safe';
import { LoadedModel } from '../../engine/runtime/model';
import type { ProgressCount } from '../../engine/progress';
import { availableDevices, CUDA_SETUP_HINT } from '../../engine/runtime/session';
import type { QueueItemStatus } from '../../store';
import { EngineError } from '../protocol';
import { describeModel } from '../model-info';
import type { HandlerContext, HandlerRegistry } from '../registry';
import { JobStore } from '../job-store';
import type { JobHandle } from '../manager';
import { checked, emit, JOB_STARTERS, requireWorkspace, studio } from './context';
import { lastTrips, QueueRunner, storedRunSettings } from './runner';
import { CODES, defaultProfileFor, resolveProfile, studioError, Workspace } from './workspace';

export function queueSummaries(ws: Workspace): QueueSummary[] {
  return ws.ledger.queues.queuesForModel(ws.modelId).map((queue) => {
    const counts: Record<QueueItemStatus, number> = { pending: 0, running: 0, done: 0, failed: 0, skipped: 0, invalid: 0 };
    for (const it of ws.ledger.queues.queueItems(queue.id)) counts[it.status]++;
    // the UI shows the stored settings (not its form's defaults) after a reload; a bad stored value is
    // listed with its problem instead of failing the whole list
    try {
      return { queue, counts, settings: storedRunSettings(ws, queue.id) };
    } catch (e) {
      return { queue, counts, settings: null, settingsProblem: (e as Error).message };
    }
  });
}

export function workspaceInfo(ws: Workspace, integrity?: string[]): WorkspaceInfo {
  const info = describeModel(ws.model);
  info.device = { ...ws.model.deviceReport };
  return {
    model: info,
    modelId: ws.modelId,
    dbFile: ws.dbFile,
    workspaceDir: ws.workspaceDir,
    fileHashes: ws.fileHashes,
    liveEdits: ws.liveCount(),
    headSeq: ws.headSeq(),
    approximate: ws.ledger.liveApproximate(ws.modelId),
    guardrailPaused: ws.ledger.guardrailPaused(ws.modelId),
    queues: queueSummaries(ws),
    recoveredItems: ws.recoveredItems,
    integrity: integrity ?? [],
    replayed: ws.replayed,
  };
}

async function closeWorkspace(ctx: HandlerContext): Promise<boolean> {
  const s = studio(ctx);
  if (!s.ws) return false;
  const ws = s.ws;
  s.ws = null;
  s.runner = null;
  // the model stays resident for the core methods only if something else uses it; release with the workspace
  if (ctx.state.model === ws.model) ctx.state.model = null;
  await ws.close();
  return true;
}

function statsEntries(ws: Workspace, modelHash: string | null): StatsEntry[] {
  return listCachedStats(ws.cacheDir).map((m) => ({
    key: m.key,
    layer: m.layer,
    dim: m.dim,
    origin: m.origin,
    model: m.model,
    corpus: m.corpus,
    samples: m.samples,
    created: m.created,
    current: modelHash !== null && m.model === modelHash,
  }));
}

/** Opens a model + its ledger; binds the job table; what an earlier run left in flight shows as interrupted. */
async function openWorkspace(ctx: HandlerContext, p: WorkspaceOpenParams, job: JobHandle): Promise<WorkspaceInfo> {
  const device = p.device ?? 'cpu';
  // the first-time hash reports bytes: the job (and its ETA) and the caller see the numbers
  const progress = (phase: string, fraction: number, message?: string, count?: ProgressCount) => {
    job.progress({ phase, fraction, ...(message !== undefined ? { message } : {}), ...(count ? { count } : {}) });
    ctx.progress(phase, fraction, message, count);
  };
  progress('load', 0, `reading ${p.modelDir}`);
  let model: LoadedModel;
  try {
    model = LoadedModel.open(path.resolve(p.modelDir), { device });
  } catch (e) {
    if (e instanceof EngineError || (e as { name?: string }).name === 'CheckpointError') throw e;
    throw new EngineError('bad_model', (e as Error).message);
  }
  // sessions are built on first use (README "How memory is used"); only check the device can start
  await model.checkDevice();
  let ws: Workspace;
  try {
    ws = await Workspace.open({ modelDir: p.modelDir, dbFile: p.dbFile, workspaceDir: p.workspaceDir, device, model, signal: job.signal, onProgress: progress });
  } catch (e) {
    await model.release().catch(() => {});
    throw e;
  }
  const s = studio(ctx);
  await closeWorkspace(ctx);
  const prev = ctx.state.model;
  ctx.state.model = model;
  if (prev && prev !== model) await prev.release().catch(() => {});
  s.ws = ws;
  s.runner = new QueueRunner(ws);
  const store = new JobStore(ws.ledger.db, ws.modelId);
  s.jobs.bind(store);
  for (const j of store.markInterrupted()) emit(ctx, { type: 'job', job: j });
  adoptGuardrailPause(ws, store);
  const integrity = ws.ledger.integrityCheck();
  emit(ctx, { type: 'ledger.changed', reason: 'open', liveEdits: ws.liveCount(), headSeq: ws.headSeq() });
  job.log('info', `opened ${ws.model.ck.dir} on ${ws.model.deviceReport.used}: ${ws.liveCount()} live edit(s), ledger ${ws.dbFile}`);
  return workspaceInfo(ws, integrity);
}

/**
 * A ledger whose queue a guardrail paused before jobs existed (or whose paused job row is gone) gets
 * a paused queue job, so the pause can be resumed, overridden or cancelled from the job list.
 */
function adoptGuardrailPause(ws: Workspace, store: JobStore): void {
  if (!ws.ledger.guardrailPaused(ws.modelId)) return;
  if (store.inState(['paused']).some((j) => j.kind === 'queue')) return;
  const ev = ws.ledger.events(ws.modelId, 'guardrail_pause').pop();
  const queueId = typeof ev?.payload.queueId === 'number' ? ev.payload.queueId : null;
  const rec = store.insert({
    kind: 'queue',
    title: `Run queue #${queueId ?? '?'} (paused by a guardrail)`,
    params: queueId !== null ? { queueId } : {},
    state: 'paused',
    headSeq: ws.headSeq(),
    queueId: queueId !== null && ws.ledger.queues.getQueue(queueId) ? queueId : null,
    retryOf: null,
    createdAt: store.now(),
    exclusive: true,
    pauseReason: lastTrips(ws),
  });
  store.appendLog(rec.id, 'warn', `paused by a guardrail: ${String(ev?.payload.reason ?? '')}`);
}

export function startOpen(ctx: HandlerContext, p: WorkspaceOpenParams, retryOf: number | null) {
  return studio(ctx).jobs.start<WorkspaceInfo>({
    kind: 'open',
    title: `Open ${path.basename(path.resolve(p.modelDir))} on ${p.device ?? 'cpu'}`,
    params: p,
    retryOf,
    whenBusy: p.whenBusy,
    transient: true,
    run: (job) => openWorkspace(ctx, p, job),
  });
}

export function startStats(ctx: HandlerContext, p: StatsComputeParams, retryOf: number | null) {
  const { ws } = requireWorkspace(ctx);
  const profName = p.profile ?? defaultProfileFor(ws.model.ck.dir);
  if (!profName && !p.layers) throw studioError('no bundled profile fits this model: give "layers" or "profile"');
  const profile = profName ? resolveProfile(profName) : null;
  const layers = p.layers ?? [...new Set([profile!.rome.layer, ...profile!.memit.layers])].sort((a, b) => a - b);
  for (const l of layers) if (l >= ws.model.cfg.layers) throw studioError(`layer ${l} does not exist (the model has ${ws.model.cfg.layers})`);
  // a corpus named over the API is read only inside the open model folder or its workspace (real paths), like
  // health.run's task files: any readable file used to be accepted. A profile's corpus is the app's own file.
  const corpusPath = p.corpusPath !== undefined ? assertInside(p.corpusPath, [ws.model.ck.dir, ws.workspaceDir], 'statistics corpus') : profile?.stats.corpus;
  return studio(ctx).jobs.start<{ entries: StatsEntry[] }>({
    kind: 'statistics',
    title: `Key statistics for layer${layers.length === 1 ? '' : 's'} ${layers.join(', ')}`,
    params: p,
    retryOf,
    whenBusy: p.whenBusy,
    run: async (job) => {
      await keyStats(ws.model, layers, {
        cacheDir: ws.cacheDir,
        corpusPath,
        samples: p.samples ?? profile?.stats.samples ?? 1000,
        maxTokensPerSample: profile?.stats.maxTokensPerSample,
        onProgress: (d, t) => job.progress({ phase: 'statistics', fraction: t ? d / t : 1, message: `key statistics ${d}/${t}` }),
        signal: job.signal,
      });
      const hash = await modelContentHash(ws.model, ws.cacheDir);
      return { entries: statsEntries(ws, hash) };
    },
  });
}

JOB_STARTERS.open = (ctx, params, retryOf) => startOpen(ctx, checked('workspace.open', params), retryOf);
JOB_STARTERS.statistics = (ctx, params, retryOf) => startStats(ctx, checked('stats.compute', params), retryOf);

export function registerHandlers(r: HandlerRegistry): void {
  r.onClose(async (state) => {
    const s = state.extras.get('studio') as { jobs: { shutdown(): Promise<void> } } | undefined;
    await s?.jobs.shutdown();
  });

  // a model opened through the core openModel replaces the workspace's model: close the workspace
  r.onModelOpened(async (model, ctx) => {
    const s = studio(ctx);
    if (s.ws && s.ws.model !== model) {
      const ws = s.ws;
      s.ws = null;
      s.runner = null;
      s.jobs.bind(null);
      await ws.close();
    }
  });

  r.add({
    'workspace.open'(params, ctx) {
      return startOpen(ctx, checked('workspace.open', params), null).done;
    },

    'workspace.info'(params, ctx) {
      checked('workspace.info', params);
      const s = studio(ctx);
      return s.ws ? workspaceInfo(s.ws) : null;
    },

    async 'workspace.close'(params, ctx) {
      checked('workspace.close', params);
      studio(ctx).jobs.requireIdle('close the workspace');
      const closed = await closeWorkspace(ctx);
      studio(ctx).jobs.bind(null);
      return { closed };
    },

    'devices.list'(params, ctx) {
      checked('devices.list', params);
      const avail = new Map(availableDevices().map((d) => [d.device, d]));
      const devices: DeviceAvailability[] = DEVICES.map((name) => {
        if (avail.has(name)) return { name, available: true };
        return { name, available: false, reason: name === 'cuda' ? CUDA_SETUP_HINT : `onnxruntime-node has no ${name} backend on this machine` };
      });
      const model = ctx.state.model;
      const dw = model?.deviceWeightsReport() ?? null;
      const holding =
        model && model.deviceReport.used !== 'cpu'
          ? {
              device: model.deviceReport.used,
              tensors: dw?.tensors ?? 0,
              bytes: dw?.bytes ?? 0,
              // device bytes equal the file bytes (runtime/device-limits.ts deviceWeightBytes)
              modelBytes: model.weightBytes,
              conversions: { ...(dw?.conversions ?? {}) },
              uploadSeconds: dw?.uploadSeconds ?? 0,
            }
          : null;
      return { devices, current: model ? model.deviceReport.used : null, holding };
    },

    'profiles.list'(params) {
      checked('profiles.list', params);
      return {
        profiles: bundledProfiles().map((name) => {
          const p = loadProfile(name);
          return { name, arch: p.arch, ...(p.description ? { description: p.description } : {}) };
        }),
      };
    },

    'profiles.get'(params) {
      const p = checked('profiles.get', params);
      try {
        return loadProfile(p.name);
      } catch (e) {
        throw studioError((e as Error).message, CODES.notFound);
      }
    },

    async 'stats.list'(params, ctx) {
      checked('stats.list', params);
      const { ws } = requireWorkspace(ctx);
      const hash = await modelContentHash(ws.model, ws.cacheDir).catch(() => null);
      return { entries: statsEntries(ws, hash) };
    },

    'stats.compute'(params, ctx) {
      return startStats(ctx, checked('stats.compute', params), null).done;
    },
  });
}
