// Keyset pagination over (createdAt desc, id desc): stable under inserts, O(limit) per page.
import { AppError } from '../errors.ts';

export interface Cursor {
  createdAt: Date;
  id: string;
}

export const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify([c.createdAt.toISOString(), c.id])).toString('base64url');

/** Instants a cursor may hold: what the database stores (a forged year 275760 would fail in the driver, as a 500). */
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31);

export function decodeCursor(raw: string | undefined): Cursor | null {
  if (!raw) return null;
  try {
    if (raw.length > 512) throw new Error('cursor too long');
    const [at, id] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as [string, string];
    const createdAt = new Date(at);
    const t = createdAt.getTime();
    if (typeof at !== 'string' || typeof id !== 'string' || id.length > 64 || !(t >= MIN_TIME && t <= MAX_TIME)) throw new Error('bad cursor');
    return { createdAt, id };
  } catch {
    throw new AppError('BAD_CURSOR', 'cursor is not one this API returned', { cursor: raw });
  }
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
