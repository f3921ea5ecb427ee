// Zip archives of a resource's stored files, deterministic so HTTP can give them a strong ETag and a
// Content-Length: entries in path order, stored (not compressed: the bytes depend on nothing but the files),
// one fixed timestamp. The ETag is computed from the files' sha256s before any byte is read, so a 304 opens
// nothing; the object store is read entry by entry as the client consumes the zip.
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import yazl from 'yazl';
import type { ObjectStore } from '../storage/object-store.ts';

/** Bump when the archive layout changes: the ETag of the same files must change with the bytes. */
const ARCHIVE_LAYOUT = 'zip-stored-v1';
const FIXED_MTIME = new Date('2000-01-01T00:00:00Z');

export interface ArchivedFile {
  path: string;
  objectKey: string;
  sizeBytes: number | bigint;
  sha256: string;
}

export interface Archive {
  name: string;
  /** Strong ETag (quoted): the same files always give the same bytes. */
  etag: string;
  /** Starts the zip; its exact size is known before the first byte. */
  open(): { body: Readable; sizeBytes: number };
}

export function zipObjects(store: ObjectStore, name: string, files: ArchivedFile[]): Archive {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const hash = crypto.createHash('sha256').update(ARCHIVE_LAYOUT);
  for (const f of sorted) hash.update(`\n${f.path}\0${f.sha256}`);
  return {
    name,
    etag: `"${hash.digest('hex')}"`,
    open() {
      const zip = new yazl.ZipFile();
      const body = zip.outputStream as unknown as Readable;
      zip.on('error', (err: Error) => body.destroy(err));
      for (const f of sorted) {
        const options = { mtime: FIXED_MTIME, mode: 0o100644, compress: false, size: Number(f.sizeBytes) };
        zip.addReadStreamLazy(f.path, options, (cb) => {
          store.get(f.objectKey).then(
            (stream) => cb(null, stream),
            (err: unknown) => cb(err, undefined as never),
          );
        });
      }
      let sizeBytes = -1;
      // @types/yazl omits the callback's argument: the total size (-1 when it cannot be known; never here).
      const onSize = ((total: number) => (sizeBytes = total)) as unknown as () => void;
      zip.end({ forceZip64Format: false, comment: '' }, onSize);
      return { body, sizeBytes };
    },
  };
}
