// Per-client GraphQL cost budget (GitHub-style): every client (its API key; its IP without one) has a token
// bucket of cost points that refills continuously at `perMinute` points per minute up to `capacity` points. A
// GraphQL operation is charged its computed cost (src/graphql/limits.ts) before it runs; one that costs more than
// the points left is refused with RATE_LIMITED (429, Retry-After: when enough will have refilled) and charged
// nothing. The request-count limit (@fastify/rate-limit, per key or IP) does not see that one 50-alias query runs
// 50 SQL statements where a dashboard query runs two; the budget does. Buckets live in a bounded cache: one idle
// long enough to be full again is the same as no bucket, so it expires then.
import { AppError } from '../errors.ts';
import { BoundedCache } from './bounded-cache.ts';
import type { Principal } from './scopes.ts';

/** Clients tracked at once; beyond it the least recently charged one is forgotten (it comes back full). */
const MAX_CLIENTS = 50_000;

/** The client a limit counts against: its API key, else its address (as the request-count limit and the subscription caps count). */
export const clientKey = (principal: Principal | null | undefined, ip: string | undefined) =>
  principal ? `key:${principal.keyId}` : `ip:${ip ?? 'unknown'}`;

export interface Charge {
  /** Points the operation cost. */
  cost: number;
  /** Points left after the charge, rounded down. */
  remaining: number;
  capacity: number;
}

interface Bucket {
  points: number;
  at: number;
}

export class CostBudget {
  private readonly buckets: BoundedCache<Bucket>;
  private readonly perMs: number;

  constructor(
    /** Points refilled per minute; 0 disables the budget. */
    readonly perMinute: number,
    /** Most points a client can hold (its burst). */
    readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
    // An untouched bucket is full again after capacity / rate: past that, forgetting it changes nothing.
    const fullAfterMs = perMinute > 0 ? Math.ceil(capacity / this.perMs) : 1;
    this.buckets = new BoundedCache(MAX_CLIENTS, fullAfterMs, now);
  }

  get enabled(): boolean {
    return this.perMinute > 0;
  }

  /** Points `client` holds now (capacity for an unknown client). */
  remaining(client: string): number {
    return this.level(client, this.now());
  }

  /**
   * Takes `cost` points from `client`, or throws RATE_LIMITED (taking nothing) when it holds fewer: retryAfterSeconds
   * says when it will hold enough. A cost above the capacity could never run: RESOURCE_LIMIT.
   */
  charge(client: string, cost: number): Charge {
    if (!this.enabled) return { cost, remaining: this.capacity, capacity: this.capacity };
    const now = this.now();
    const points = this.level(client, now);
    if (cost > this.capacity) {
      throw new AppError(
        'RESOURCE_LIMIT',
        `query cost ${cost} exceeds the whole GraphQL budget of ${this.capacity} points: ask for smaller pages or fewer fields`,
        {
          cost,
          limit: this.capacity,
        },
      );
    }
    if (cost > points) {
      const retryAfterSeconds = Math.max(1, Math.ceil((cost - points) / this.perMs / 1000));
      throw new AppError(
        'RATE_LIMITED',
        `GraphQL cost budget exceeded: this query costs ${cost} points and ${Math.floor(points)} of ${this.capacity} are left (refilled at ${this.perMinute} per minute); retry in ${retryAfterSeconds} s`,
        { cost, remaining: Math.floor(points), limit: this.capacity, perMinute: this.perMinute, retryAfterSeconds, scope: 'cost' },
      );
    }
    this.buckets.set(client, { points: points - cost, at: now });
    return { cost, remaining: Math.floor(points - cost), capacity: this.capacity };
  }

  private level(client: string, now: number): number {
    const b = this.buckets.get(client);
    if (!b) return this.capacity;
    return Math.min(this.capacity, b.points + (now - b.at) * this.perMs);
  }
}
