// health.*, charts.*
import type { HealthRunParams, HealthRunResult } from '../../api/contract';
import type { HandlerContext, HandlerRegistry } from '../registry';
import { checked, JOB_STARTERS, requireWorkspace, studio } from './context';
import { chartRuns, DEFAULT_HEALTH_N, loadTasks, pickTasks, runHealthCheck, summarizeTask } from './health-core';
import { assertInside } from '../../engine/fs-safe';

export function startHealth(ctx: HandlerContext, p: HealthRunParams, retryOf: number | null) {
  const { ws } = requireWorkspace(ctx);
  // extra task files over the API: only inside the open model folder or its workspace (real paths)
  const taskFiles = (p.taskFiles ?? []).map((f) => assertInside(f, [ws.model.ck.dir, ws.workspaceDir], 'task file'));
  const tasks = pickTasks(ws, p.taskIds, taskFiles);
  return studio(ctx).jobs.start<HealthRunResult>({
    kind: 'health',
    title: `Health check: ${tasks.map((t) => t.id).join(', ')} (n ${p.n ?? DEFAULT_HEALTH_N})`,
    params: p,
    headSeq: ws.headSeq(),
    retryOf,
    whenBusy: p.whenBusy,
    run: async (job) => {
      const res = await runHealthCheck(ws, tasks, { n: p.n, signal: job.signal, onProgress: (f, m) => job.progress({ phase: 'health', fraction: f, message: m }) });
      for (const s of res.scores)
        job.log(
          'info',
          `${s.taskId}: ${s.score.toFixed(3)} (n ${s.n}, seed ${s.seed})` +
            (s.notMeasurable ? ' — not measurable on this model (the base model scores 0)' : s.retentionPct !== null ? `, retention ${s.retentionPct.toFixed(1)}%` : ''),
        );
      job.emit({ type: 'health.result', runs: res.runs, baseline: res.baseline });
      return res;
    },
  });
}

JOB_STARTERS.health = (ctx, params, retryOf) => startHealth(ctx, checked('health.run', params), retryOf);

export function registerHandlers(r: HandlerRegistry): void {
  r.add({
    'health.tasks'(params, ctx) {
      checked('health.tasks', params);
      void studio(ctx);
      return { tasks: loadTasks().map(summarizeTask) };
    },

    'health.run'(params, ctx) {
      return startHealth(ctx, checked('health.run', params), null).done;
    },

    'charts.norms'(params, ctx) {
      const p = checked('charts.norms', params);
      const { ws } = requireWorkspace(ctx);
      return { series: ws.ledger.normSeries(ws.modelId, { liveOnly: p.liveOnly }) };
    },

    'charts.health'(params, ctx) {
      const p = checked('charts.health', params);
      const { ws } = requireWorkspace(ctx);
      const events = ws.ledger.history(ws.modelId).events.filter((e) => e.kind === 'guardrail_pause' || e.kind === 'resume' || e.kind === 'override');
      return { runs: chartRuns(ws.ledger.healthSeries(ws.modelId, p.taskId)), events };
    },
  });
}
