// API keys: `mp_<43 base64url chars>`, shown once at creation; only the sha256 is stored. Verification is one
// indexed lookup by hash; lastUsedAt is written at most once a minute per key so reads stay cheap. Unknown keys are
// remembered in a bounded negative cache for a short TTL, so a repeated bogus key does not hit the database each
// time (a new key is random, so it is never in it; known keys are never cached: revocation is immediate).
import crypto from 'node:crypto';
import type { Db } from '../db/prisma.ts';
import { AppError } from '../errors.ts';
import { BoundedCache } from './bounded-cache.ts';
import { isScope, type Principal, type Scope } from './scopes.ts';

export const KEY_PREFIX = 'mp_';
const KEY_PATTERN = /^mp_[A-Za-z0-9_-]{43}$/;
const LAST_USED_EVERY_MS = 60_000;
/** Unknown key hashes remembered at once. */
const NEGATIVE_CACHE_ENTRIES = 10_000;

export interface ApiKeyDto {
  id: string;
  name: string;
  scope: Scope;
  /** The one project the key sees; null: a global key (every project). */
  projectId: string | null;
  /** The first characters of the key, to recognise it. */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

type Row = {
  id: string;
  name: string;
  scope: string;
  projectId: string | null;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
};

const toDto = (r: Row): ApiKeyDto => ({
  id: r.id,
  name: r.name,
  scope: r.scope as Scope,
  projectId: r.projectId,
  prefix: r.prefix,
  createdAt: r.createdAt.toISOString(),
  lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
  revokedAt: r.revokedAt?.toISOString() ?? null,
});

export const hashKey = (key: string) => crypto.createHash('sha256').update(key).digest('hex');

export class ApiKeyService {
  private readonly lastWritten = new Map<string, number>();
  private readonly unknown: BoundedCache<true>;
  /** Database lookups made by verify() (the negative cache's effect is visible here). */
  lookups = 0;

  constructor(
    private readonly db: Db,
    opts: { negativeCacheMs?: number } = {},
  ) {
    this.unknown = new BoundedCache(NEGATIVE_CACHE_ENTRIES, opts.negativeCacheMs ?? 30_000);
  }

  /**
   * Creates a key; `key` is the only time the plain key exists outside the caller. With `projectId` the key sees
   * that project only; without, it is global (every project), as keys were before projects existed.
   */
  async create(input: { name: string; scope: string; projectId?: string | null }): Promise<{ key: string; apiKey: ApiKeyDto }> {
    const name = input.name.trim();
    if (!name || name.length > 100) throw new AppError('VALIDATION_FAILED', 'name: must be 1-100 characters', { field: 'name' });
    if (!isScope(input.scope)) throw new AppError('VALIDATION_FAILED', 'scope: must be read, write or admin', { field: 'scope' });
    const projectId = input.projectId ?? null;
    if (projectId !== null && !(await this.db.project.findUnique({ where: { id: projectId } }))) {
      throw new AppError('VALIDATION_FAILED', `projectId: project ${projectId} does not exist`, { field: 'projectId' });
    }
    const key = KEY_PREFIX + crypto.randomBytes(32).toString('base64url');
    const row = await this.db.apiKey.create({ data: { name, scope: input.scope, projectId, hash: hashKey(key), prefix: key.slice(0, 10) } });
    this.unknown.delete(row.hash);
    return { key, apiKey: toDto(row) };
  }

  async list(): Promise<ApiKeyDto[]> {
    const rows = await this.db.apiKey.findMany({ orderBy: { createdAt: 'desc' } });
    return rows.map(toDto);
  }

  /** Revokes a key (idempotent); it stops working at once. */
  async revoke(id: string): Promise<ApiKeyDto> {
    const row = await this.db.apiKey.findUnique({ where: { id } });
    if (!row) throw new AppError('NOT_FOUND', `api key ${id} not found`, { resource: 'apiKey', id });
    if (row.revokedAt) return toDto(row);
    return toDto(await this.db.apiKey.update({ where: { id }, data: { revokedAt: new Date() } }));
  }

  /** The key's principal, or null for a malformed, unknown or revoked key. */
  async verify(key: string): Promise<Principal | null> {
    if (!KEY_PATTERN.test(key)) return null;
    const hash = hashKey(key);
    if (this.unknown.get(hash)) return null;
    this.lookups++;
    const row = await this.db.apiKey.findUnique({ where: { hash } });
    if (!row) this.unknown.set(hash, true);
    if (!row || row.revokedAt || !isScope(row.scope)) return null;
    this.touch(row.id);
    return { keyId: row.id, name: row.name, scope: row.scope, projectId: row.projectId };
  }

  private touch(id: string) {
    const now = Date.now();
    if (now - (this.lastWritten.get(id) ?? 0) < LAST_USED_EVERY_MS) return;
    this.lastWritten.set(id, now);
    this.db.apiKey.update({ where: { id }, data: { lastUsedAt: new Date(now) } }).catch(() => this.lastWritten.delete(id));
  }
}

/** "Bearer mp_…" → "mp_…"; null when absent or another scheme. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}
