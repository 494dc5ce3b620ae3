// Progress as numbers, and the ETA of one phase measured on that phase alone (issue 19 item 11).
// Every long phase reports how far it is in its own unit (samples of key statistics, v* steps,
// bytes hashed, tokens generated, sessions built); the CLI draws a bar or prints JSON lines from the
// numbers (never from a message's text), and an ETA comes from the rate of the phase it is for —
// the rate of the statistics never stands in for the rate of the optimisation, or the reverse.

/** How far a phase is: `done` of `total` `unit`s (e.g. 120 of 400 samples). */
export interface ProgressCount {
  done: number;
  total: number;
  /** plural noun: samples, steps, bytes, tokens, sessions, layers, edits */
  unit: string;
}

export function isProgressCount(c: unknown): c is ProgressCount {
  const o = c as ProgressCount | null;
  return !!o && typeof o === 'object' && Number.isFinite(o.done) && Number.isFinite(o.total) && o.total >= 0 && typeof o.unit === 'string';
}

/**
 * The ETA of the current phase from its own rate: (time since the phase's first report) / (units
 * done since then) × units left. A new phase, a new total or a count that goes back starts a new
 * measurement; until a unit has been done there is no ETA (null), never a guess from another phase.
 * `now` is passed in (ms, any monotonic clock) so the arithmetic is testable without waiting.
 */
export class PhaseEta {
  private key: string | null = null;
  private t0 = 0;
  private d0 = 0;
  private last = 0;

  update(phase: string, c: ProgressCount, now: number): number | null {
    const key = `${phase}\u0000${c.unit}\u0000${c.total}`;
    if (key !== this.key || c.done < this.last) {
      this.key = key;
      this.t0 = now;
      this.d0 = c.done;
    }
    this.last = c.done;
    if (c.done >= c.total) return 0;
    const units = c.done - this.d0;
    if (units <= 0) return null;
    return ((now - this.t0) / units) * (c.total - c.done);
  }

  /** Forget the measurement (e.g. when a run ends). */
  reset(): void {
    this.key = null;
  }
}
