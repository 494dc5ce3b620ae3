// The error history view's model (src-renderer/src/lib/jobs.ts errorHistory): the engine's
// persisted job errors are listed (so a reload, a second window or a restart shows them), the
// window's own errors are added, a job failure the asking window also caught is shown once.
import { describe, expect, it } from 'vitest';
import type { JobErrorEntry } from '../../src-main/api/contract';
import { errorHistory } from '../../src-renderer/src/lib/jobs';

const persisted: JobErrorEntry[] = [
  { jobId: 7, kind: 'export', title: 'Export to /proc/nope', at: '2026-01-01T00:00:05.000Z', line: 3, message: 'cannot create /proc/nope: ENOENT', failure: true, code: 'export_failed' },
  { jobId: 5, kind: 'queue', title: 'Run queue #1', at: '2026-01-01T00:00:02.000Z', line: 9, message: 'item 3: subject not found', failure: false },
];

describe('error history', () => {
  it('a window with no errors of its own (reloaded, second window) still lists the persisted job errors', () => {
    const rows = errorHistory(persisted, []);
    expect(rows.map((r) => [r.jobId, r.text, r.code])).toEqual([
      [7, 'cannot create /proc/nope: ENOENT', 'export_failed'],
      [5, 'item 3: subject not found', undefined],
    ]);
    expect(rows[0].title).toBe('Export to /proc/nope');
  });

  it('adds the window-only errors in time order and shows a job failure the window also caught once', () => {
    const local = [
      { id: 1, at: '2026-01-01T00:00:06.000Z', text: 'cannot create /proc/nope: ENOENT', code: 'export_failed' },
      { id: 2, at: '2026-01-01T00:00:03.000Z', text: 'cannot start "Revert to #1": job #5 is running', code: 'busy' },
    ];
    const rows = errorHistory(persisted, local);
    expect(rows.map((r) => r.text)).toEqual(['cannot create /proc/nope: ENOENT', 'cannot start "Revert to #1": job #5 is running', 'item 3: subject not found']);
    expect(rows.find((r) => r.code === 'busy')!.jobId).toBeNull();
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length);
  });
});
