// Where the statistics and solve code gets its big buffers. Everything that allocates a buffer whose
// size grows with d_ff (a float64 n² matrix, a panel, a key block) asks an Alloc, so a test can count
// them and the memory rule "at most two n² float64 buffers per solve, one per accumulated layer" is
// checked by counting, not by timing or RSS. Buffers onnxruntime returns are reported through
// `external` (they are allocated inside the binding, so they cannot be injected).
export interface Alloc {
  f64(length: number, label: string): Float64Array;
  f32(length: number, label: string): Float32Array;
  /** a buffer of `length` elements of `bytesPerElement` allocated elsewhere (onnxruntime outputs) */
  external(length: number, bytesPerElement: number, label: string): void;
}

export const defaultAlloc: Alloc = {
  f64: (n) => new Float64Array(n),
  f32: (n) => new Float32Array(n),
  external: () => {},
};

export interface AllocRecord {
  kind: 'f64' | 'f32' | 'external';
  length: number;
  bytes: number;
  label: string;
}

/** An Alloc that records every request (tests; `eac stats --verbose`-style accounting). */
export class CountingAlloc implements Alloc {
  readonly records: AllocRecord[] = [];
  f64(length: number, label: string): Float64Array {
    this.records.push({ kind: 'f64', length, bytes: length * 8, label });
    return new Float64Array(length);
  }
  f32(length: number, label: string): Float32Array {
    this.records.push({ kind: 'f32', length, bytes: length * 4, label });
    return new Float32Array(length);
  }
  external(length: number, bytesPerElement: number, label: string): void {
    this.records.push({ kind: 'external', length, bytes: length * bytesPerElement, label });
  }
  /** records of at least `length` elements */
  atLeast(length: number): AllocRecord[] {
    return this.records.filter((r) => r.length >= length);
  }
  get largest(): number {
    return Math.max(0, ...this.records.map((r) => r.length));
  }
}
