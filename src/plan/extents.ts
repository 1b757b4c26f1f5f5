/** Byte regions of a disk, as offset and length, and the set arithmetic the flash planner needs. */

export interface Extent {
  readonly offset: number;
  readonly length: number;
}

/** The parts of e that none of cover overlaps, in order. */
export function subtract<E extends Extent>(e: E, cover: readonly Extent[]): Extent[] {
  let parts: Extent[] = [{ offset: e.offset, length: e.length }];
  for (const c of cover) {
    const cEnd = c.offset + c.length;
    parts = parts.flatMap((p) => {
      const pEnd = p.offset + p.length;
      if (cEnd <= p.offset || c.offset >= pEnd) return [p];
      return [{ offset: p.offset, length: Math.max(0, c.offset - p.offset) }, { offset: cEnd, length: Math.max(0, pEnd - cEnd) }].filter((x) => x.length > 0);
    });
  }
  return parts;
}

/** Sorted, with overlapping and touching regions joined. */
export function merge(regions: readonly Extent[]): Extent[] {
  const out: Extent[] = [];
  for (const e of [...regions].filter((x) => x.length > 0).sort((a, b) => a.offset - b.offset)) {
    const prev = out.at(-1);
    if (prev && e.offset <= prev.offset + prev.length) out[out.length - 1] = { offset: prev.offset, length: Math.max(prev.length, e.offset + e.length - prev.offset) };
    else out.push(e);
  }
  return out;
}
