// The recently opened model folders (most recent first), persisted as JSON in the app's data folder
// so headless mode — where no native folder dialog exists and paths are typed — can offer them
// again. Written by the host after every successful workspace.open; read by `models.recent`.
import fs from 'node:fs';
import path from 'node:path';
import type { RecentModel } from '../api/wire';

export type { RecentModel };

export const RECENT_FILE = 'recent-models.json';
export const RECENT_MAX = 10;

function isRecent(x: unknown): x is RecentModel {
  const r = x as RecentModel;
  return typeof r === 'object' && r !== null && typeof r.dir === 'string' && r.dir !== '' && typeof r.openedAt === 'number';
}

export class RecentModels {
  readonly file: string;
  constructor(dataDir: string) {
    this.file = path.join(dataDir, RECENT_FILE);
  }

  /** The list; a missing or unreadable file is an empty list (it is a convenience, not a record). */
  list(): RecentModel[] {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(this.file, 'utf8'));
    } catch {
      return [];
    }
    return Array.isArray(raw) ? raw.filter(isRecent).slice(0, RECENT_MAX) : [];
  }

  /** Puts `dir` first (once), keeps RECENT_MAX entries, writes atomically (temp file + rename). */
  add(dir: string, device?: string, now = Date.now()): RecentModel[] {
    const abs = path.resolve(dir);
    const next = [{ dir: abs, ...(device ? { device } : {}), openedAt: now }, ...this.list().filter((r) => r.dir !== abs)].slice(0, RECENT_MAX);
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    return next;
  }
}
