// The CLI's progress output (issue 19 item 11), always on stderr so stdout stays the command's result:
//   tty    one bar redrawn in place:  optimise [########----------------] 12/30 steps · ETA 4 min 10 s
//   lines  (stderr is not a terminal) a line when a phase starts, at every tenth of it and at its end
//   json   (--json) one JSON object per line: {"type":"progress","phase","done","total","unit",
//          "fraction","eta_ms"} (plus "message" where a phase has one)
// It reads the numbers of a progress report (engine/progress.ts ProgressCount), never the text of
// its message, and the ETA is the current phase's own (PhaseEta).
import { PhaseEta, type ProgressCount } from '../engine/progress';
import type { CliIO } from './command';

export type ProgressMode = 'tty' | 'lines' | 'json';

export interface ProgressUpdate {
  phase: string;
  count?: ProgressCount;
  message?: string;
}

/** "3 min 20 s", "45 s", "1 h 05 min". */
export function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

const BYTE_UNITS: [number, string][] = [
  [2 ** 30, 'GiB'],
  [2 ** 20, 'MiB'],
  [2 ** 10, 'KiB'],
];

/** "120/400 samples"; bytes in the larger unit of the total ("1.2/6.4 GiB"). */
export function fmtCount(c: ProgressCount): string {
  if (c.unit === 'bytes') {
    const [div, name] = BYTE_UNITS.find(([d]) => c.total >= d) ?? [1, 'bytes'];
    const f = (x: number) => (div === 1 ? String(x) : (x / div).toFixed(1));
    return `${f(c.done)}/${f(c.total)} ${name}`;
  }
  return `${c.done}/${c.total} ${c.unit}`;
}

/** A fixed-width bar for a fraction 0..1. */
export function bar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

const fractionOf = (c: ProgressCount) => (c.total > 0 ? Math.min(1, c.done / c.total) : 1);

/** The bar line of the tty mode (no \r, no newline). */
export function barLine(u: ProgressUpdate, etaMs: number | null): string {
  if (!u.count) return `${u.phase}${u.message ? `: ${u.message}` : ''}`;
  const eta = etaMs !== null && u.count.done < u.count.total ? ` · ETA ${fmtDuration(etaMs)}` : '';
  return `${u.phase} ${bar(fractionOf(u.count))} ${fmtCount(u.count)}${eta}`;
}

/** One line of the lines mode (no newline): the count, its percentage and ETA while it runs. */
export function textLine(u: ProgressUpdate, etaMs: number | null): string {
  if (!u.count || (u.count.total <= 1 && u.message)) return `${u.phase}${u.message ? `: ${u.message}` : ''}`;
  const c = u.count;
  if (c.done >= c.total) return `${u.phase} ${fmtCount(c)}`;
  const pct = Math.floor(fractionOf(c) * 100);
  return `${u.phase} ${fmtCount(c)} (${pct} %)${etaMs !== null ? ` · ETA ${fmtDuration(etaMs)}` : ''}`;
}

/** The JSON object of the json mode. */
export function jsonLine(u: ProgressUpdate, etaMs: number | null): Record<string, unknown> {
  return {
    type: 'progress',
    phase: u.phase,
    ...(u.count ? { done: u.count.done, total: u.count.total, unit: u.count.unit, fraction: fractionOf(u.count), eta_ms: etaMs === null ? null : Math.round(etaMs) } : {}),
    ...(u.message !== undefined ? { message: u.message } : {}),
  };
}

/**
 * Prints progress reports in one of the modes. A phase whose first report is already complete (a
 * cache hit: statistics found, nothing computed) prints nothing. `now` is a monotonic ms clock (the
 * tests pass their own).
 */
export class ProgressPrinter {
  private eta = new PhaseEta();
  private phase: string | null = null;
  private unit: string | null = null;
  /** the tenth (lines), thousandth (json) last printed of the current phase */
  private step = -1;
  private lineOpen = false;
  private lastDraw = -Infinity;
  private silent = false;
  /** the count last reported in this phase (a report that repeats it prints nothing) */
  private lastDone: number | null = null;

  constructor(
    private readonly io: CliIO,
    readonly mode: ProgressMode,
    private readonly now: () => number = () => performance.now(),
  ) {}

  static forIO(io: CliIO, json: boolean): ProgressPrinter {
    return new ProgressPrinter(io, json ? 'json' : io.errIsTTY ? 'tty' : 'lines');
  }

  update(u: ProgressUpdate): void {
    const t = this.now();
    const c = u.count;
    const etaMs = c ? this.eta.update(u.phase, c, t) : null;
    const fresh = u.phase !== this.phase || (c?.unit ?? null) !== this.unit;
    if (fresh) {
      this.phase = u.phase;
      this.unit = c?.unit ?? null;
      this.step = -1;
      this.lastDone = c?.done ?? null;
      // nothing to do in this phase (found in a cache): say nothing about it
      this.silent = !!c && c.total > 0 && c.done >= c.total;
      if (this.silent) return;
    } else if (this.silent || (c && c.done === this.lastDone)) return;
    this.lastDone = c?.done ?? null;
    const complete = !!c && c.done >= c.total;
    switch (this.mode) {
      case 'json': {
        const step = c ? Math.floor(fractionOf(c) * 1000) : -1;
        if (!fresh && !complete && step === this.step) return;
        if (!fresh && !c) return;
        this.step = step;
        this.io.err(JSON.stringify(jsonLine(u, etaMs)) + '\n');
        return;
      }
      case 'lines': {
        const step = c ? Math.floor(fractionOf(c) * 10) : -1;
        if (!fresh && (!c || (step === this.step && !complete))) return;
        this.step = complete ? 11 : step;
        this.io.err(textLine(u, etaMs) + '\n');
        return;
      }
      case 'tty': {
        if (fresh && this.lineOpen) this.io.err('\n');
        // redraw at most ten times a second, always at a phase's start and end
        if (!fresh && !complete && t - this.lastDraw < 100) return;
        this.lastDraw = t;
        this.io.err(`\r${barLine(u, etaMs)}\x1b[K`);
        this.lineOpen = true;
        if (complete) {
          this.io.err('\n');
          this.lineOpen = false;
        }
        return;
      }
    }
  }

  /** Ends an open bar line (before the command prints its result). */
  end(): void {
    if (this.lineOpen) this.io.err('\n');
    this.lineOpen = false;
  }
}
