// The studio handlers: every method of the API contract (src-main/api/contract.ts), implemented in
// the engine worker. Load with EngineClient({ handlerModules: [studioHandlersUrl] }) or list
// `studio` in worker.ts HANDLER_MODULES.
import type { StudioMethods } from '../../api/contract';
import { IMMEDIATE_METHODS } from '../../api/methods';
import type { HandlerRegistry } from '../registry';
import { registerHandlers as health } from './health-handlers';
import { registerHandlers as jobs } from './job-handlers';
import { registerHandlers as ledger } from './ledger-handlers';
import { registerHandlers as playground } from './playground';
import { registerHandlers as queue } from './queue-handlers';
import { registerHandlers as workspace } from './workspace-handlers';

declare module '../protocol' {
  // every studio method is an engine method under the same name
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface EngineMethods extends StudioMethods {}
}

/** file URL of this module, for EngineClient's handlerModules option */
export const studioHandlersUrl = new URL(import.meta.url);

export function registerHandlers(r: HandlerRegistry): void {
  workspace(r);
  queue(r);
  ledger(r);
  health(r);
  playground(r);
  jobs(r);
  // nothing waits in the engine's FIFO: long work is a job (JobManager), refused or queued visibly
  r.runImmediately(IMMEDIATE_METHODS);
}

export { Workspace, defaultWorkspaceDir, dataRoot } from './workspace';
export { QueueRunner, recordItems, batchSizeFor } from './runner';
export { exportWorkspace, revertWorkspace, removeFromWorkspace, reapplyInWorkspace } from './ops';
export { runHealthCheck, pickTasks, loadTasks } from './health-core';
