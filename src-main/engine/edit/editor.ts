// One entry point for every method: validate, measure before, edit, apply, measure after.
import { validateRequest } from '../facts';
import type { EditRequest } from '../facts/types';
import type { LoadedModel } from '../runtime/model';
import { LiveEdits } from './live';
import { ft, memit, METHOD_IS_BATCHED, MethodContext, rome, StatsProvider } from './methods';
import { preservedKeysOf } from './preserved-keys';
import { localityPredictions, normSnapshots, requestMetrics } from './metrics';
import { checkProfileFits, EditProfile } from './profile';
import { assertFiniteEdit } from './finite';
import type { EditMethod, EditPhase, EditProgress, EditResult, LayerDelta, RequestMetrics } from './types';
import type { ProgressCount } from '../progress';
import { ARCHITECTURES, type Architecture } from '../architectures';
import { EacError } from '../errors';

export interface EditOptions {
  onProgress?: (p: EditProgress) => void;
  signal?: AbortSignal;
  /** skip pre/post metrics (used when replaying edits where only the factors matter) */
  skipMetrics?: boolean;
}

export class Editor {
  readonly live: LiveEdits;
  /** the architecture's MLP output projection (architectures.ts downProj): the weight every method writes */
  private readonly down: Architecture['downProj'];

  constructor(
    readonly model: LoadedModel,
    readonly profile: EditProfile,
    readonly stats: StatsProvider,
  ) {
    checkProfileFits(profile, model.cfg.arch, model.cfg.layers);
    this.live = new LiveEdits(model);
    // every layer any method of this profile taps: one tap session serves them all
    model.reserveTapLayers([profile.rome.layer, profile.ft.layer, ...profile.memit.layers, ...profile.alphaedit.layers]);
    this.down = ARCHITECTURES[model.cfg.arch].downProj;
  }

  /** Per-request problems that make an edit impossible; null when the request is fine. */
  check(req: EditRequest): string | null {
    const v = validateRequest(req, { countTokens: (s) => this.model.encode(s).length, maxTokens: this.model.cfg.maxPositions - 16 });
    if (v) return v;
    if (!req.prompt.includes('{}')) return `prompt "${req.prompt}" has no "{}" slot for the subject`;
    return null;
  }

  async edit(method: EditMethod, reqs: EditRequest[], opts: EditOptions = {}): Promise<EditResult> {
    if (reqs.length === 0) throw new EacError('bad_params', 'no requests to edit');
    if (!METHOD_IS_BATCHED[method] && reqs.length !== 1) throw new EacError('bad_params', `${method} edits one request at a time (got ${reqs.length})`);
    for (const r of reqs) {
      const err = this.check(r);
      if (err) throw new EacError('bad_params', `request ${r.caseId}: ${err}`);
    }
    const timings: Partial<Record<EditPhase, number>> = {};
    let cur: EditPhase | null = null;
    let since = performance.now();
    const phase = (p: EditPhase, fraction: number, message?: string, count?: ProgressCount) => {
      if (p !== cur) {
        const now = performance.now();
        if (cur) timings[cur] = (timings[cur] ?? 0) + now - since;
        cur = p;
        since = now;
      }
      opts.onProgress?.({ phase: p, fraction, message, ...(count ? { count } : {}) });
    };
    let preMetrics: RequestMetrics[] = [];
    let preLoc: number[][][] = [];
    if (!opts.skipMetrics) {
      phase('metrics', 0, 'before edit', { done: 0, total: 2, unit: 'passes' });
      preLoc = await Promise.all(reqs.map((r) => localityPredictions(this.model, r)));
      preMetrics = [];
      for (const r of reqs) preMetrics.push(await requestMetrics(this.model, r, null));
    }
    const ctx: MethodContext = {
      model: this.model,
      live: this.live,
      profile: this.profile,
      stats: this.stats,
      downProj: (l) => this.downProj(l),
      phase,
      signal: opts.signal,
    };
    const out =
      method === 'rome' || method === 'eac-rome'
        ? await rome(ctx, reqs[0], method === 'eac-rome')
        : method === 'memit' || method === 'eac-memit'
          ? await memit(ctx, reqs, method === 'eac-memit')
          : method === 'alphaedit' || method === 'eac-alphaedit'
            ? await memit(ctx, reqs, method === 'eac-alphaedit', 'alphaedit')
            : await ft(ctx, reqs[0], method === 'ft-en');
    this.live.push(...out.deltas);
    // AlphaEdit's K_p K_pᵀ grows with the edit as soon as it is applied; unapply takes it out again
    if (out.preservedKeys) preservedKeysOf(this.model).add(out.deltas, out.preservedKeys);
    try {
      const metrics: RequestMetrics[] = [];
      if (!opts.skipMetrics) {
        phase('metrics', 0.5, 'after edit', { done: 1, total: 2, unit: 'passes' });
        for (let i = 0; i < reqs.length; i++) metrics.push(await requestMetrics(this.model, reqs[i], preLoc[i]));
      }
      const norms = normSnapshots(this.model, this.down.inputMajor, (l) => this.live.layerDeltas(l), out.deltas);
      // never hand out (or let anyone record) an edit with a NaN / Inf factor, norm or metric
      assertFiniteEdit(`${method} edit of ${reqs.map((r) => r.caseId).join(', ')}`, out.deltas, norms, metrics);
      phase('metrics', 1, undefined, { done: 2, total: 2, unit: 'passes' });
      if (cur) timings[cur as EditPhase] = (timings[cur as EditPhase] ?? 0) + performance.now() - since;
      return {
        method,
        requests: reqs,
        layers: [...new Set(out.deltas.map((d) => d.layer))],
        deltas: out.deltas,
        metrics,
        preMetrics,
        norms,
        timings,
        details: out.details,
        statsKeys: out.statsKeys,
        ...(out.preservedKeys ? { preservedKeys: out.preservedKeys } : {}),
      };
    } catch (e) {
      this.live.drop(out.deltas);
      preservedKeysOf(this.model).drop(out.deltas);
      throw e;
    }
  }

  /** The tensor an edit of layer `l` changes and whether it is stored [d_ff, d] (input-major), from the architecture table. */
  downProj(l: number): { tensor: string; inputMajor: boolean } {
    return { tensor: this.down.weight(l), inputMajor: this.down.inputMajor };
  }

  /** Withdraw an edit that was applied but could not be recorded. */
  unapply(deltas: LayerDelta[]): void {
    this.live.drop(deltas);
    preservedKeysOf(this.model).drop(deltas);
  }

  /** AlphaEdit's preserved keys of this model (model state: set it with the live edits, see Workspace.rebuild). */
  get preserved() {
    return preservedKeysOf(this.model);
  }
}
