// The devices a model can run on, written once: the CLI's --device choices, the server's, the engine's
// openModel check, the device picker's availability list, runtime/session.ts's `Device` type (the
// execution providers it can create) and the API contract all read this list. It lives apart from
// runtime/session.ts so that the API and the renderer can name devices without loading onnxruntime.

/** Every device, in the order they are offered (cpu, the default, first). */
export const DEVICES = ['cpu', 'webgpu', 'cuda'] as const;

export type DeviceName = (typeof DEVICES)[number];

/** Whether `x` names a device (for checking input before it reaches onnxruntime). */
export function isDevice(x: unknown): x is DeviceName {
  return typeof x === 'string' && (DEVICES as readonly string[]).includes(x);
}
