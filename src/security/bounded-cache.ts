// A bounded map with a time to live: at most `maxEntries` entries (the least recently set is evicted first) and
// entries older than `ttlMs` read as absent. Backs the negative API-key cache and the per-IP failed-auth counters,
// so neither can grow without bound under a flood of distinct keys or addresses.
export class BoundedCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Sets (and refreshes the age of) `key`; evicts the oldest entries beyond maxEntries. */
  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: this.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Updates the value without extending its lifetime (a fixed window keeps its end). */
  update(key: string, value: V): void {
    const entry = this.entries.get(key);
    if (entry) entry.value = value;
  }

  expiresAt(key: string): number | undefined {
    return this.entries.get(key)?.expires;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
