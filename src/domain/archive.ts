import type { Readable } from 'node:stream';
import yazl from 'yazl';
import type { ObjectStore } from '../storage/object-store.ts';

/** A zip of stored objects, streamed entry by entry (only one object is open at a time). */
export function zipObjects(store: ObjectStore, files: { path: string; objectKey: string }[]): Readable {
  const zip = new yazl.ZipFile();
  const out = zip.outputStream as unknown as Readable;
  (async () => {
    for (const f of files) zip.addReadStream(await store.get(f.objectKey), f.path, { compress: !/\.(bin|npy|gz|zip)$/.test(f.path) });
    zip.end();
  })().catch((err: Error) => out.destroy(err));
  return out;
}

export const archiveName = (name: string, fallback: string) => `${name.replace(/[^\w.-]+/g, '_') || fallback}.zip`;
