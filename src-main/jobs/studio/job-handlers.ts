// jobs.*: the job list every window shows (jobs.list on connect, `job` events after), a job's log,
// and the controls that work from any window: pause, cancel, retry (interrupted / failed / cancelled).
import type { HandlerRegistry } from '../registry';
import { checked, JOB_STARTERS, studio } from './context';
import { CODES, studioError } from './workspace';

export function registerHandlers(r: HandlerRegistry): void {
  r.add({
    'jobs.list'(params, ctx) {
      const p = checked('jobs.list', params);
      return { jobs: studio(ctx).jobs.list(p.limit ?? 200) };
    },

    'jobs.log'(params, ctx) {
      const p = checked('jobs.log', params);
      const jm = studio(ctx).jobs;
      const job = jm.get(p.jobId);
      if (!job) throw studioError(`no job #${p.jobId}`, CODES.notFound);
      return { job, lines: jm.log(p.jobId) };
    },

    'jobs.errors'(params, ctx) {
      const p = checked('jobs.errors', params);
      return { errors: studio(ctx).jobs.errors(p.limit ?? 200) };
    },

    'jobs.cancel'(params, ctx) {
      const p = checked('jobs.cancel', params);
      const jm = studio(ctx).jobs;
      if (!jm.get(p.jobId)) throw studioError(`no job #${p.jobId}`, CODES.notFound);
      const cancelled = jm.cancel(p.jobId);
      return { cancelled, job: jm.get(p.jobId)! };
    },

    'jobs.pause'(params, ctx) {
      const p = checked('jobs.pause', params);
      const jm = studio(ctx).jobs;
      if (!jm.get(p.jobId)) throw studioError(`no job #${p.jobId}`, CODES.notFound);
      const pausing = jm.pause(p.jobId);
      return { pausing, job: jm.get(p.jobId)! };
    },

    async 'jobs.retry'(params, ctx) {
      const p = checked('jobs.retry', params);
      const jm = studio(ctx).jobs;
      const old = jm.get(p.jobId);
      if (!old) throw studioError(`no job #${p.jobId}`, CODES.notFound);
      if (!['interrupted', 'failed', 'cancelled'].includes(old.state))
        throw studioError(`job #${old.id} is ${old.state}; only interrupted, failed or cancelled jobs can be retried`, CODES.badParams);
      const start = JOB_STARTERS[old.kind];
      if (!start) throw studioError(`jobs of kind ${old.kind} cannot be retried`, CODES.badParams);
      const params0 = { ...(old.params as Record<string, unknown>) };
      // the retry is asked now: a destructive job checks against today's head, given the user asked again
      delete params0.expectHeadSeq;
      if (p.whenBusy) params0.whenBusy = p.whenBusy;
      else delete params0.whenBusy;
      const { job, done } = start(ctx, params0, old.id);
      // the interrupted / failed job is closed: its retry carries on
      if (old.state === 'interrupted') jm.cancel(old.id);
      await done.catch(() => {});
      return jm.get(job.id) ?? job;
    },
  });
}
