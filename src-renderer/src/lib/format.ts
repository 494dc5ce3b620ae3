// Small display helpers (pure; unit-tested).

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  const rs = Math.round(s - m * 60);
  if (m < 60) return `${m} min ${rs} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtPct(x: number | null | undefined, digits = 0): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return `${(x * 100).toFixed(digits)}%`;
}

export function fmtNum(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return x.toFixed(digits);
}

export function fmtTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** "{} plays the sport of" + "X" → "X plays the sport of" */
export function fillPrompt(template: string, subject: string): string {
  return template.replace('{}', subject);
}

/**
 * The export's one-line result. ExportResult.files lists every file but the manifest edits.json
 * (which lists them), so the count of files written is one more ("Wrote 5 files" was shown when 6
 * landed).
 */
export function exportSummary(r: { outDir: string; files: { name: string; bytes: number }[]; bytes: number; ms: number; editedTensors: string[]; editIds: number[] }): string {
  const written = r.files.length + (r.files.some((f) => f.name === 'edits.json') ? 0 : 1);
  return (
    `Wrote ${written} files (${fmtBytes(r.bytes)}; edits.json lists the other ${written - 1}) to ${r.outDir} in ${fmtMs(r.ms)}; ` +
    `${r.editedTensors.length} tensor(s) materialised from ${r.editIds.length} edit(s).`
  );
}

/**
 * What the model holds on its GPU, in one line: "2.77 GB of 2.77 GB of weights on webgpu (36 tensors,
 * bfloat16 → float16 once at upload, 25.1 s)", or that nothing is there until the first session.
 */
export function deviceHoldingLine(h: {
  device: string;
  tensors: number;
  bytes: number;
  modelBytes: number;
  conversions: Record<string, string>;
  uploadSeconds: number;
}): string {
  if (h.tensors === 0) return `nothing yet on ${h.device}: the weights (${fmtBytes(h.modelBytes)}) go up with the first generation or edit`;
  const conv = Object.entries(h.conversions).map(([from, to]) => `${from} → ${to} once at upload`);
  return (
    `${fmtBytes(h.bytes)} of ${fmtBytes(h.modelBytes)} of weights on ${h.device} (${h.tensors} tensors` +
    `${conv.length ? `, ${conv.join(', ')}` : ''}, uploaded in ${h.uploadSeconds.toFixed(1)} s)`
  );
}
