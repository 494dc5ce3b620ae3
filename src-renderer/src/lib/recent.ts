// A Recent chip opens the model it names (it only filled the path field before), on the device it was
// last opened with when that device is available here, else on the device the form shows.
import type { DeviceAvailability, DeviceName } from '../../../src-main/api/contract';
import type { RecentModel } from '../../../src-main/api/wire';

export function recentOpen(m: RecentModel, devices: DeviceAvailability[], current: DeviceName): { modelDir: string; device: DeviceName } {
  const d = devices.find((x) => x.name === m.device);
  return { modelDir: m.dir, device: d?.available ? d.name : current };
}
