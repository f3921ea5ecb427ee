// A stored file offered for download: its metadata first (so HTTP can answer 304 or 416 without touching the
// object store), its bytes, whole or one byte range, only when they are sent.
import type { Readable } from 'node:stream';
import type { ByteRange, ObjectStore } from '../storage/object-store.ts';

export interface OpenedFile {
  path: string;
  sizeBytes: number;
  sha256: string;
  open(range?: ByteRange): Promise<Readable>;
}

export const openStoredFile = (
  store: ObjectStore,
  f: { path: string; objectKey: string; sizeBytes: number | bigint; sha256: string },
): OpenedFile => ({
  path: f.path,
  sizeBytes: Number(f.sizeBytes),
  sha256: f.sha256,
  open: (range) => store.get(f.objectKey, range),
});
