// Opens an engine process with one model for a CLI command and always shuts it down again. No restart
// after a crash: a command is one short run, and it should fail with the reason (exit 1), not retry.
import path from 'node:path';
import { EngineClient } from '../jobs/client';
import { EngineError, type DeviceName, type ModelInfo } from '../jobs/protocol';
import { UsageError, type CliIO } from './command';

/** the --device choices: the one list in engine/devices.ts */
export { DEVICES } from '../engine/devices';

/** Engine error codes that mean "the input was wrong" (exit 2) rather than "the engine failed". */
const INPUT_CODES = new Set(['bad_params', 'bad_model', 'no_model']);

export async function withModel<T>(
  io: CliIO,
  dir: string,
  device: DeviceName,
  fn: (engine: EngineClient, info: ModelInfo) => Promise<T>,
): Promise<T> {
  const abs = path.resolve(io.cwd, dir);
  const engine = new EngineClient();
  try {
    let info: ModelInfo;
    try {
      info = await engine.call('openModel', { dir: abs, device });
    } catch (e) {
      // a folder that does not load is bad input, whatever the code (CheckpointError codes, bad_model)
      if (e instanceof EngineError && e.code !== 'worker_crashed') throw new UsageError('usage', e.message);
      throw e;
    }
    const d = info.device;
    if (d && d.used !== d.requested) {
      io.err(`eac: warning: ${d.requested} is not available, running on ${d.used}: ${d.fallbackReason ?? 'unknown reason'}\n`);
    }
    try {
      return await fn(engine, info);
    } catch (e) {
      if (e instanceof EngineError && e.code && INPUT_CODES.has(e.code)) throw new UsageError('usage', e.message);
      throw e;
    }
  } finally {
    await engine.close();
  }
}
