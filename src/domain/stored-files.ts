// The stored files of an uploaded resource (a model or a dataset), handled the same way by both domain services:
// their public listing, one file offered for download (metadata first, so HTTP can answer 304 or 416 without
// touching the object store; its bytes, whole or one byte range, only when they are sent), the resource's zip
// archive, and removing what was stored under a new resource's prefix when registering it fails.
import type { Readable } from 'node:stream';
import { AppError } from '../errors.ts';
import type { ByteRange, ObjectStore } from '../storage/object-store.ts';
import { zipObjects, type Archive } from './archive.ts';

/** A file row as the database holds it (models and datasets alike). */
export interface StoredFileRow {
  path: string;
  objectKey: string;
  sizeBytes: number | bigint;
  sha256: string;
}

/** A model or dataset row with its files. */
export interface FileOwner {
  id: string;
  name: string;
  files: StoredFileRow[];
}

export type FileOwnerKind = 'model' | 'dataset';

export interface OpenedFile {
  path: string;
  sizeBytes: number;
  sha256: string;
  open(range?: ByteRange): Promise<Readable>;
}

/** The files as the API lists them: path order, sizes as numbers; `extra` adds fields after `path` (a dataset's role). */
export function listFiles<F extends StoredFileRow, X extends object = object>(files: F[], extra?: (f: F) => X) {
  return files
    .map((f) => ({ path: f.path, ...(extra?.(f) as X), sizeBytes: Number(f.sizeBytes), sha256: f.sha256 }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** One of the owner's files, by path; NOT_FOUND (resource "file") when it has none there. */
export function openFileOf(store: ObjectStore, kind: FileOwnerKind, owner: FileOwner, filePath: string): OpenedFile {
  const f = owner.files.find((x) => x.path === filePath);
  if (!f) throw new AppError('NOT_FOUND', `${kind} ${owner.id} has no file ${JSON.stringify(filePath)}`, { resource: 'file', path: filePath });
  return { path: f.path, sizeBytes: Number(f.sizeBytes), sha256: f.sha256, open: (range) => store.get(f.objectKey, range) };
}

/** A zip of the owner's files named after it (e.g. "my_model.zip"), streamed entry by entry from the store. */
export function archiveOf(store: ObjectStore, kind: FileOwnerKind, owner: FileOwner): Archive {
  return zipObjects(store, `${owner.name.replace(/[^\w.-]+/g, '_') || kind}.zip`, owner.files);
}

/** Runs `register`; when it fails, removes whatever was stored under `prefix` (best effort) and rethrows. */
export async function removedOnFailure<T>(store: ObjectStore, prefix: string, register: () => Promise<T>): Promise<T> {
  try {
    return await register();
  } catch (err) {
    await store.deletePrefix(prefix).catch(() => {});
    throw err;
  }
}

/** Batch reads (GraphQL loaders): `rows` mapped by `toDto` in the order of `ids`, null where there is none. */
export function inOrderAsked<R extends { id: string }, D>(ids: readonly string[], rows: R[], toDto: (row: R) => D): (D | null)[] {
  const byId = new Map(rows.map((r) => [r.id, toDto(r)]));
  return ids.map((id) => byId.get(id) ?? null);
}
