// Keyset pagination over (createdAt desc, id desc): stable under inserts, O(limit) per page.
import { AppError } from '../errors.ts';

export interface Cursor {
  createdAt: Date;
  id: string;
}

/**
 * The one cursor encoding of the API: base64url of a JSON array of the last row's sort key parts — (createdAt, id)
 * for resources, (step, id) for metric points, (id) for log events.
 */
export const encodeKey = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');

/** A cursor's key parts, null without one; BAD_CURSOR unless it is one this API returned and `check` accepts its parts. */
export function decodeKey(raw: string | undefined, check: (parts: unknown[]) => boolean): unknown[] | null {
  if (!raw) return null;
  try {
    const parts = raw.length > 512 ? null : (JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown);
    if (Array.isArray(parts) && check(parts)) return parts as unknown[];
  } catch {
    // not base64url JSON: the same answer as wrong parts
  }
  throw new AppError('BAD_CURSOR', 'cursor is not one this API returned', { cursor: raw });
}

export const encodeCursor = (c: Cursor) => encodeKey([c.createdAt.toISOString(), c.id]);

/** Instants a cursor may hold: what the database stores (a forged year 275760 would fail in the driver, as a 500). */
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31);
const isInstant = (at: unknown) => typeof at === 'string' && new Date(at).getTime() >= MIN_TIME && new Date(at).getTime() <= MAX_TIME;

export function decodeCursor(raw: string | undefined): Cursor | null {
  const parts = decodeKey(raw, ([at, id]) => isInstant(at) && typeof id === 'string' && id.length <= 64);
  return parts && { createdAt: new Date(parts[0] as string), id: parts[1] as string };
}

/** Prisma `where` fragment selecting rows strictly after the cursor in (createdAt desc, id desc) order. */
export function afterCursor(cursor: Cursor | null) {
  if (!cursor) return {};
  return {
    OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }],
  };
}

export const newestFirst = [{ createdAt: 'desc' as const }, { id: 'desc' as const }];

/** Given limit+1 fetched rows, returns the page and the cursor for the next one. */
export function toPage<T extends Cursor, U>(rows: T[], limit: number, map: (row: T) => U): { items: U[]; nextCursor: string | null } {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { items: page.map(map), nextCursor: more ? encodeCursor(page[page.length - 1]) : null };
}

/** `name` filter: exact match, or prefix match when it ends with `*`. */
export const nameFilter = (name: string | undefined) =>
  name === undefined ? {} : name.endsWith('*') ? { name: { startsWith: name.slice(0, -1) } } : { name };
