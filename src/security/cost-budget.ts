// Per-client GraphQL cost budget (GitHub-style): every client (its API key; its IP without one) has a token
// bucket of cost points that refills continuously at `perMinute` points per minute up to `capacity` points. A
// GraphQL operation is charged its computed cost (src/graphql/limits.ts) before it runs; one that costs more than
// the points left is refused with RATE_LIMITED (429, Retry-After: when enough will have refilled) and charged
// nothing. The request-count limit (@fastify/rate-limit, per key or IP) does not see that one 50-alias query runs
// 50 SQL statements where a dashboard query runs two; the budget does. A refused client is told when to come back
// (Retry-After); until then its GraphQL requests are refused as they arrive (check(), an onRequest hook), before
// their body is read or parsed, so a client that floods without waiting costs next to nothing. A request refused
// for its size or shape (over the alias, field, size or cost caps) is charged REFUSAL_COST, so floods of those run
// dry too. Buckets live in a bounded cache: one idle long enough to be full again is the same as no bucket, so it
// expires then.
import { AppError } from '../errors.ts';
import { BoundedCache } from './bounded-cache.ts';
import type { Principal } from './scopes.ts';

/** Clients tracked at once; beyond it the least recently charged one is forgotten (it comes back full). */
const MAX_CLIENTS = 50_000;
/** What a request refused for its size or shape costs (it was read and parsed; nothing ran). */
export const REFUSAL_COST = 100;

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
  /** Points at `at`; below 0 after a penalty (a debt that refills like the rest). */
  points: number;
  at: number;
  /** Refused until then (the Retry-After it was given). */
  blockedUntil: number;
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
    // An untouched bucket is full again after (capacity + the largest debt) / rate: past that, forgetting it changes nothing.
    const fullAfterMs = perMinute > 0 ? Math.ceil((capacity + REFUSAL_COST) / this.perMs) : 1;
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
      const retryAfterMs = (cost - points) / this.perMs;
      this.buckets.set(client, { points, at: now, blockedUntil: now + retryAfterMs });
      throw this.limited(cost, points, retryAfterMs);
    }
    this.buckets.set(client, { points: points - cost, at: now, blockedUntil: 0 });
    return { cost, remaining: Math.floor(points - cost), capacity: this.capacity };
  }

  /** Throws RATE_LIMITED while `client` is refused (before the Retry-After it was given): no need to read its request. */
  check(client: string): void {
    if (!this.enabled) return;
    const b = this.buckets.get(client);
    const now = this.now();
    if (b && b.blockedUntil > now) throw this.limited(null, this.level(client, now), b.blockedUntil - now);
  }

  /** Takes `points` for a request refused for its size or shape; a debt blocks the client until it is refilled. */
  penalize(client: string, points = REFUSAL_COST): void {
    if (!this.enabled) return;
    const now = this.now();
    const left = this.level(client, now) - points;
    const blocked = this.buckets.get(client)?.blockedUntil ?? 0;
    this.buckets.set(client, { points: left, at: now, blockedUntil: Math.max(blocked, left < 0 ? now - left / this.perMs : 0) });
  }

  private limited(cost: number | null, points: number, retryAfterMs: number): AppError {
    const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    const left = Math.max(0, Math.floor(points));
    return new AppError(
      'RATE_LIMITED',
      cost === null
        ? `GraphQL cost budget spent: ${left} of ${this.capacity} points left (refilled at ${this.perMinute} per minute); retry in ${retryAfterSeconds} s`
        : `GraphQL cost budget exceeded: this query costs ${cost} points and ${left} of ${this.capacity} are left (refilled at ${this.perMinute} per minute); retry in ${retryAfterSeconds} s`,
      { ...(cost === null ? {} : { cost }), remaining: left, limit: this.capacity, perMinute: this.perMinute, retryAfterSeconds, scope: 'cost' },
    );
  }

  private level(client: string, now: number): number {
    const b = this.buckets.get(client);
    if (!b) return this.capacity;
    return Math.min(this.capacity, b.points + (now - b.at) * this.perMs);
  }
}

/**
 * GraphQL operations one client may have executing at once (the others wait their turn, in arrival order; more than
 * `maxWaiting` waiting: 429). With MAX_SQL statements per operation, one client can never have more than
 * concurrency × MAX_SQL statements queued in front of everyone else's, however many connections it opens.
 */
export class ClientGate {
  private readonly clients = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  /**
   * A turn for `client`: `ready` resolves when it may run; call `release` when it is over (also when it gave up
   * waiting: `ready` then rejects with UNAVAILABLE). Throws RATE_LIMITED when too many of its requests wait already.
   */
  enter(client: string): { ready: Promise<void>; release: () => void } {
    let c = this.clients.get(client);
    if (!c) this.clients.set(client, (c = { active: 0, waiting: [] }));
    const entry = c;
    let state: 'waiting' | 'running' | 'done' = 'running';
    let grant!: () => void;
    let cancel!: (err: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      grant = resolve;
      cancel = reject;
    });
    const start = () => {
      state = 'running';
      grant();
    };
    if (entry.active < this.concurrency) {
      entry.active++;
      start();
    } else if (entry.waiting.length >= this.maxWaiting) {
      throw new AppError('RATE_LIMITED', `more than ${this.concurrency + this.maxWaiting} GraphQL requests of this client at once; retry in 1 s`, {
        limit: this.concurrency + this.maxWaiting,
        retryAfterSeconds: 1,
        scope: 'concurrency',
      });
    } else {
      state = 'waiting';
      entry.waiting.push(start);
    }
    const release = () => {
      if (state === 'done') return;
      if (state === 'waiting') {
        entry.waiting.splice(entry.waiting.indexOf(start), 1);
        state = 'done';
        cancel(new AppError('UNAVAILABLE', 'the request ended while waiting for its turn'));
        return;
      }
      state = 'done';
      const next = entry.waiting.shift();
      if (next)
        next(); // the slot passes to the next in line
      else if (--entry.active === 0) this.clients.delete(client);
    };
    return { ready, release };
  }

  /** Operations of `client` running and waiting (tests, metrics). */
  load(client: string): { running: number; waiting: number } {
    const c = this.clients.get(client);
    return { running: c?.active ?? 0, waiting: c?.waiting.length ?? 0 };
  }
}
