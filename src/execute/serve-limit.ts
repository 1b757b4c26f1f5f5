/**
 * A per-address request limit: a token bucket per requester, `burst` deep, refilled at
 * `perMinute`. A node's first boot asks for 5 files and posts a few hundred events over minutes;
 * a scanner or a looping client runs dry and gets 429 with Retry-After.
 */

/** Buckets kept at most: the fullest (longest idle) go first, so a spoofed-address flood cannot grow memory. */
const MAX_TRACKED = 10_000;

export class RateLimiter {
  readonly #perMinute: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perMinute: number, burst: number) {
    this.#perMinute = perMinute;
    this.#burst = Math.max(1, burst);
  }

  /** Take one request's token for `address` at `nowMs`: null when allowed, else seconds until one is there. */
  take(address: string, nowMs: number): number | null {
    if (this.#perMinute <= 0) return null;
    const perMs = this.#perMinute / 60_000;
    const b = this.#buckets.get(address) ?? { tokens: this.#burst, at: nowMs };
    b.tokens = Math.min(this.#burst, b.tokens + (nowMs - b.at) * perMs);
    b.at = nowMs;
    // Re-inserted: the Map's order is then least recently seen first.
    this.#buckets.delete(address);
    this.#buckets.set(address, b);
    if (this.#buckets.size > MAX_TRACKED) this.#buckets.delete(this.#buckets.keys().next().value!);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return null;
    }
    return Math.ceil((1 - b.tokens) / perMs / 1000);
  }
}
