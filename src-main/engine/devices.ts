// The devices a model can run on, written once: the CLI's --device choices, the server's, the engine's
// openModel check, the device picker's availability list and the API contract all read this list.
// runtime/session.ts owns the `Device` type (the execution providers it can create); the checks below
// make a device added there and not here (or the reverse) a compile error.
import type { Device } from './runtime/session';

/** Every device, in the order they are offered (cpu, the default, first). */
export const DEVICES = ['cpu', 'webgpu', 'cuda'] as const satisfies readonly Device[];

export type DeviceName = (typeof DEVICES)[number];

// a Device missing from DEVICES makes this `false`, and the assignment fails to compile
const everyDeviceListed: [Exclude<Device, DeviceName>] extends [never] ? true : false = true;
void everyDeviceListed;

/** Whether `x` names a device (for checking input before it reaches onnxruntime). */
export function isDevice(x: unknown): x is DeviceName {
  return typeof x === 'string' && (DEVICES as readonly string[]).includes(x);
}
