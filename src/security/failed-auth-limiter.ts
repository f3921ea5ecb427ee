// Per-IP rate limit of requests that do not authenticate: no key where one is needed, or a malformed, unknown or
// revoked key. The per-key limit (@fastify/rate-limit in preHandler) only sees requests that got past
// authentication, so without this a keyless or bogus-key flood was answered 401 at full speed (42k in 10 s) and
// every bogus key cost a database lookup. An address over its budget gets 429 RATE_LIMITED for the rest of its
// window, before any key lookup. Counters live in a bounded cache (fixed one-minute windows).
import { AppError } from '../errors.ts';
import { BoundedCache } from './bounded-cache.ts';

const WINDOW_MS = 60_000;
/** Addresses tracked at once; beyond it the least recently failing one is forgotten. */
const MAX_ADDRESSES = 50_000;

export class FailedAuthLimiter {
  private readonly counts: BoundedCache<number>;

  constructor(
    /** Failures per IP per minute; 0 disables the limiter. */
    readonly perMinute: number,
    now: () => number = Date.now,
  ) {
    this.counts = new BoundedCache(MAX_ADDRESSES, WINDOW_MS, now);
    this.now = now;
  }

  private readonly now: () => number;

  /** Throws RATE_LIMITED when `ip` already used up its failures for this window. */
  check(ip: string): void {
    if (this.perMinute > 0 && (this.counts.get(ip) ?? 0) >= this.perMinute) throw this.limited(ip);
  }

  /** Counts one failure of `ip`. */
  fail(ip: string): void {
    if (this.perMinute === 0) return;
    const n = this.counts.get(ip);
    if (n === undefined) this.counts.set(ip, 1);
    else this.counts.update(ip, n + 1);
  }

  private limited(ip: string): AppError {
    const retryAfterSeconds = Math.max(1, Math.ceil(((this.counts.expiresAt(ip) ?? this.now()) - this.now()) / 1000));
    return new AppError(
      'RATE_LIMITED',
      `too many unauthenticated requests from this address (limit ${this.perMinute} per minute); retry in ${retryAfterSeconds} s`,
      { limit: this.perMinute, retryAfterSeconds, scope: 'ip' },
    );
  }
}
