// Chart.js configurations for the Health view, built from the contract's chart payloads. Pure.
import type { ChartConfiguration } from 'chart.js';
import type { HealthChart, HealthChartRun, NormSeries } from '../../../src-main/api/contract';

const PALETTE = ['#4ea1ff', '#f0883e', '#3fb950', '#d2a8ff', '#ff7b72', '#79c0ff', '#e3b341', '#56d4dd'];

/** L1 drift (% growth of Σ|W| over the base) per edited matrix vs the number of edits applied. */
export function normsChart(series: NormSeries[]): ChartConfiguration<'line'> {
  // x = the number of live edits applied when the point was recorded, counted over every layer
  // (a MEMIT edit touches several layers, a ROME edit one: a per-layer count would disagree)
  const seqs = [...new Set(series.flatMap((s) => s.points.filter((p) => p.active).map((p) => p.seq)))].sort((a, b) => a - b);
  const editCount = new Map(seqs.map((seq, i) => [seq, i + 1]));
  return {
    type: 'line',
    data: {
      datasets: series.map((s, i) => {
        const live = s.points.filter((p) => p.active);
        return {
          label: `layer ${s.layer}`,
          data: [{ x: 0, y: 0 }, ...live.map((p) => ({ x: editCount.get(p.seq)!, y: p.l1GrowthPct }))],
          borderColor: PALETTE[i % PALETTE.length],
          backgroundColor: PALETTE[i % PALETTE.length],
          tension: 0.15,
          pointRadius: 3,
        };
      }),
    },
    options: {
      parsing: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: 'edits applied' }, ticks: { precision: 0 } },
        y: { title: { display: true, text: 'L1 growth (%)' } },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  };
}

/** One line of the health chart: the runs of one (task, example count, sample seed). */
export interface HealthLine {
  key: string;
  taskId: string;
  n: number;
  seed: number;
  label: string;
  /** in edits-applied order */
  runs: HealthChartRun[];
  /** the latest baseline run of this key, if any */
  baseline: HealthChartRun | null;
}

/**
 * Groups the chart's runs by (task, n, seed): runs with different example counts or seeds score
 * different examples and are never drawn on one line (nor compared: retentionPct comes from the
 * engine against the matching baseline only).
 */
export function healthLines(h: HealthChart): HealthLine[] {
  const lines = new Map<string, HealthLine>();
  for (const r of [...h.runs].sort((a, b) => a.editsApplied - b.editsApplied || a.id - b.id)) {
    const key = `${r.taskId}|${r.n}|${r.seed}`;
    let line = lines.get(key);
    if (!line) {
      line = { key, taskId: r.taskId, n: r.n, seed: r.seed, label: `${r.taskId} (n ${r.n}, seed ${r.seed})`, runs: [], baseline: null };
      lines.set(key, line);
    }
    line.runs.push(r);
    if (r.baseline && (!line.baseline || r.id > line.baseline.id)) line.baseline = r;
  }
  return [...lines.values()];
}

/** Retention of a run as shown: only against a matching baseline. */
export function retentionText(r: HealthChartRun): string {
  if (r.notMeasurable) return 'not measurable on this model';
  if (r.retentionPct === null) return `no baseline at n ${r.n}, seed ${r.seed}`;
  return `retention ${r.retentionPct.toFixed(1)}%`;
}

/** Retention (percent of the baseline score) below which the Health view marks a score as a loss. */
export const LOW_RETENTION_PCT = 90;

/** Whether a retention is shown as a loss: one without a matching baseline (null) is not. */
export function lowRetention(pct: number | null): boolean {
  return pct !== null && pct < LOW_RETENTION_PCT;
}

/** Task scores vs edits applied, one line per (task, n, seed); guardrail events as markers on the x axis. */
export function healthChart(h: HealthChart): ChartConfiguration<'line'> {
  const lines = healthLines(h);
  const datasets: ChartConfiguration<'line'>['data']['datasets'] = lines.map((line, i) => ({
    label: line.label,
    data: line.runs.map((r) => ({ x: r.editsApplied, y: r.score })),
    borderColor: PALETTE[i % PALETTE.length],
    backgroundColor: PALETTE[i % PALETTE.length],
    tension: 0.1,
    pointRadius: 3,
  }));
  const guard = h.events.filter((e) => e.kind === 'guardrail_pause' || e.kind === 'override' || e.kind === 'resume');
  if (guard.length) {
    datasets.push({
      label: 'guardrail events',
      data: guard.map((e) => ({ x: Number((e.payload as { editsApplied?: number }).editsApplied ?? 0), y: 0 })),
      showLine: false,
      pointStyle: 'triangle',
      pointRadius: 7,
      borderColor: '#f85149',
      backgroundColor: '#f85149',
    });
  }
  return {
    type: 'line',
    data: { datasets },
    options: {
      parsing: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: 'edits applied' }, ticks: { precision: 0 } },
        y: { min: 0, title: { display: true, text: 'score' } },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: {
          callbacks: {
            // score and retention of the point's own run (matching baseline only)
            label: (item) => {
              const run = lines[item.datasetIndex]?.runs[item.dataIndex];
              if (!run) return `${item.dataset.label ?? ''}`;
              return `${lines[item.datasetIndex].label}: ${run.score.toFixed(3)} · ${retentionText(run)}`;
            },
          },
        },
      },
    },
  };
}
