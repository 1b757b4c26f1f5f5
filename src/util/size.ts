/** Byte sizes and shares of a disk as users write them: 64GiB, 500G, 50%, rest. */

export type Amount =
  | { readonly kind: 'bytes'; readonly bytes: number }
  | { readonly kind: 'percent'; readonly percent: number }
  | { readonly kind: 'rest' };

// IEC units are powers of 1024; SI units powers of 1000 (disk vendors sell SI: a "1TB" SSD is 10^12 bytes).
const UNITS: Readonly<Record<string, number>> = {
  '': 1, B: 1,
  K: 1e3, KB: 1e3, M: 1e6, MB: 1e6, G: 1e9, GB: 1e9, T: 1e12, TB: 1e12,
  KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40,
};

/** Parse "64GiB", "1TB", "512" (bytes) into a byte count, or undefined when malformed. */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toUpperCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** Parse a size that may be relative to the disk: bytes, "N%" or "rest". */
export function parseAmount(value: string | number): Amount | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value > 0 ? { kind: 'bytes', bytes: value } : undefined;
  }
  if (value.trim() === 'rest') return { kind: 'rest' };
  const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
  if (pct) {
    const percent = Number(pct[1]);
    return percent > 0 && percent <= 100 ? { kind: 'percent', percent } : undefined;
  }
  const bytes = parseBytes(value);
  return bytes === undefined ? undefined : { kind: 'bytes', bytes };
}

/** Human form of a byte count: the largest IEC unit it reaches, exact when it divides evenly. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size) return bytes % size === 0 ? `${bytes / size}${unit}` : `${(bytes / size).toFixed(2)}${unit}`;
  }
  return `${bytes}B`;
}

export function formatAmount(a: Amount): string {
  return a.kind === 'bytes' ? formatBytes(a.bytes) : a.kind === 'percent' ? `${a.percent}%` : 'rest';
}
