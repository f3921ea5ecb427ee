// Conditional and partial GETs (RFC 9110 §13, §14) for downloads: If-None-Match → 304, Range (one byte range)
// with If-Range → 206 or 416. Pure functions over header values, so every download route shares one reading.
import { AppError } from '../errors.ts';

/** An inclusive byte range of a representation of `size` bytes. */
export interface ByteRange {
  start: number;
  end: number;
}

const opaque = (tag: string) => tag.trim().replace(/^W\//, '');

/** If-None-Match uses the weak comparison: true when the client's copy is current (answer 304). */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((t) => opaque(t) === etag);
}

/**
 * The range to send, null for the whole representation. Only `bytes=` with a single range is honoured (several
 * ranges would need multipart/byteranges; the whole file is a correct answer to them). An If-Range that is not
 * the current strong ETag means the client's partial copy is stale: the whole file. Throws 416 when no byte of
 * the range exists.
 */
export function requestedRange(range: string | undefined, ifRange: string | undefined, etag: string, size: number): ByteRange | null {
  if (!range) return null;
  if (ifRange !== undefined && ifRange.trim() !== etag) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    // suffix range: the last N bytes
    const n = Number(m[2]);
    start = Math.max(0, size - n);
    end = size - 1;
    if (n === 0) throw unsatisfiable(size);
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null; // invalid range: ignore the header
  }
  if (start >= size) throw unsatisfiable(size);
  return { start, end };
}

const unsatisfiable = (size: number) =>
  new AppError('RANGE_NOT_SATISFIABLE', `range not satisfiable: the representation has ${size} bytes`, { size, contentRange: `bytes */${size}` });
