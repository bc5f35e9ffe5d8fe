/** Small statistics and formatting helpers for the benchmark report. */

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function mean(samples: number[]): number {
  return samples.length === 0 ? Number.NaN : samples.reduce((a, b) => a + b, 0) / samples.length;
}

/** `1234.5` → `1,234.5` with the given decimals. */
export function fmt(value: number, decimals = 1): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms >= 1000 ? `${fmt(ms / 1000, 2)} s` : `${fmt(ms, ms < 10 ? 2 : 1)} ms`;
}

export function fmtBytes(bytes: number): string {
  if (bytes >= MiB) return `${fmt(bytes / MiB, 2)} MiB`;
  if (bytes >= KiB) return `${fmt(bytes / KiB, 1)} KiB`;
  return `${bytes} B`;
}

export function fmtUsd(usd: number): string {
  return `$${fmt(usd, usd < 1 ? 4 : 2)}`;
}

export function sizeLabel(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}
