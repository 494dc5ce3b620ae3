// A Recent chip opens its model (issue 19 item 13: it only filled the path), on its last device when
// that one is available here.
import { describe, expect, it } from 'vitest';
import { recentOpen } from '../../src-renderer/src/lib/recent';

describe('recentOpen', () => {
  const devices = [
    { name: 'cpu' as const, available: true },
    { name: 'cuda' as const, available: false, reason: 'no CUDA' },
    { name: 'webgpu' as const, available: true },
  ];
  it('opens the folder on its last device when available, else on the one the form shows', () => {
    expect(recentOpen({ dir: '/m/a', device: 'webgpu', openedAt: 1 }, devices, 'cpu')).toEqual({ modelDir: '/m/a', device: 'webgpu' });
    expect(recentOpen({ dir: '/m/b', device: 'cuda', openedAt: 1 }, devices, 'cpu')).toEqual({ modelDir: '/m/b', device: 'cpu' });
    expect(recentOpen({ dir: '/m/c', openedAt: 1 }, devices, 'webgpu')).toEqual({ modelDir: '/m/c', device: 'webgpu' });
  });
});
