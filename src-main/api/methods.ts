// The API's method lists: every studio method by name (checked complete against StudioMethods at compile
// time), the ones that start a job, and the edit methods and devices a call may name. The types are in
// ./contract.ts. Renderer-safe: engine/devices.ts and engine/edit/types.ts are plain TypeScript.
import { DEVICES, type DeviceName } from '../engine/devices';
import { EDIT_METHODS, type EditMethod } from '../engine/edit/types';
import type { JobKind, StudioMethod } from './contract';

/** The edit methods and devices the API accepts: the engine's own lists, named once there. */
export const EDIT_METHOD_NAMES: readonly EditMethod[] = EDIT_METHODS;
export const DEVICE_NAMES: readonly DeviceName[] = DEVICES;

export const STUDIO_METHODS = [
  'workspace.open',
  'workspace.info',
  'workspace.close',
  'devices.list',
  'stats.compute',
  'stats.list',
  'queue.import',
  'queue.create',
  'queue.list',
  'queue.items',
  'queue.updateItem',
  'queue.reorder',
  'queue.run',
  'queue.pause',
  'queue.resume',
  'queue.cancel',
  'queue.status',
  'ledger.history',
  'ledger.edit',
  'ledger.revert',
  'ledger.remove',
  'ledger.reapply',
  'ledger.export',
  'health.tasks',
  'health.run',
  'charts.norms',
  'charts.health',
  'playground.compare',
  'profiles.list',
  'profiles.get',
  'jobs.list',
  'jobs.log',
  'jobs.errors',
  'jobs.cancel',
  'jobs.pause',
  'jobs.retry',
] as const satisfies readonly StudioMethod[];

// compile-time check that STUDIO_METHODS lists every method
type _Missing = Exclude<StudioMethod, (typeof STUDIO_METHODS)[number]>;
const _allListed: _Missing extends never ? true : never = true;
void _allListed;

/**
 * Every studio method is answered at once: the engine never lines calls up behind a running job.
 * Work that takes time is a job (see JOB_METHODS); while a job that changes the model runs, another
 * one is refused at once with a message naming the running job (code 'busy'), or, when the caller
 * passes whenBusy: 'queue', waits visibly in the job list with its own Cancel. Reads stay live.
 */
export const IMMEDIATE_METHODS: readonly StudioMethod[] = STUDIO_METHODS;

/** Methods that start a job (their call resolves when the job ends; the job goes on without the caller). */
export const JOB_METHODS: Partial<Record<StudioMethod, JobKind>> = {
  'workspace.open': 'open',
  'stats.compute': 'statistics',
  'queue.run': 'queue',
  'queue.resume': 'queue',
  'ledger.revert': 'revert',
  'ledger.remove': 'remove',
  'ledger.reapply': 'reapply',
  'ledger.export': 'export',
  'health.run': 'health',
};

export function isStudioMethod(name: unknown): name is StudioMethod {
  return typeof name === 'string' && (STUDIO_METHODS as readonly string[]).includes(name);
}

/**
 * The method the queue's method picker recommends for long queues, and why in one line — from the
 * README's issue-18 table (sequential edits on both fixtures); change both together.
 */
export const LONG_QUEUE_METHOD: { method: EditMethod; why: string } = {
  method: 'eac-alphaedit',
  why: "over 500 sequential edits on gpt2-world-a it kept the most facts and the model's health (final reliability 0.73, lowest task 0.95; every other method 0.59 / 0.38 or less); on llama-world-a it kept the most health with about as many facts (0.50 / 0.81 against EAC-MEMIT's 0.51 / 0.75)",
};
