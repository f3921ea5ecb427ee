// Zip archives (NPZ and image folders) need random access, so the upload is first copied to a temp file.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { isAppError } from '../../../errors.ts';
import type { SourceFile } from '../ingest.ts';
import { invalidDataset } from './limits.ts';
import type { ParseContext } from './types.ts';

export interface ZipArchive {
  entries: Entry[];
  open(entry: Entry): Promise<Readable>;
}

/** Absolute, drive-letter, backslash or `..` names could escape a folder if anything ever extracted them. */
export const isUnsafeEntryName = (name: string): boolean =>
  name.startsWith('/') || name.includes('\\') || /^[a-zA-Z]:/.test(name) || name.split('/').includes('..');

/** Bounds the in-memory entry list of a hostile archive. */
const MAX_ENTRIES = 1_000_000;
let copies = 0;

/** Copies `file` into ctx.workDir and opens it; ctx closes it. Unsafe entry names → INVALID_DATASET. */
export async function openZip(file: SourceFile, ctx: ParseContext): Promise<ZipArchive> {
  const path = join(ctx.workDir, `upload-${++copies}.zip`);
  await pipeline(await file.open(), createWriteStream(path, { flags: 'wx' }));
  let zip: ZipFile;
  try {
    // strictFileNames keeps backslashes as-is so our own check, not a silent rewrite, decides.
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, strictFileNames: true, validateEntrySizes: true });
  } catch (err) {
    throw invalidDataset(`${file.path} is not a valid zip archive: ${(err as Error).message}`);
  }
  ctx.defer(() => zip.close());
  const entries: Entry[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      if (isUnsafeEntryName(entry.fileName)) throw invalidDataset(`${file.path}: unsafe entry name ${JSON.stringify(entry.fileName)}`);
      if (entries.push(entry) > MAX_ENTRIES) throw invalidDataset(`${file.path} has more than ${MAX_ENTRIES} entries`);
    }
  } catch (err) {
    if (isAppError(err)) throw err;
    throw invalidDataset(`${file.path} is not a valid zip archive: ${(err as Error).message}`);
  }
  return {
    entries,
    open: async (entry) => {
      try {
        return await zip.openReadStreamPromise(entry);
      } catch (err) {
        throw invalidDataset(`${file.path}: cannot read ${entry.fileName}: ${(err as Error).message}`);
      }
    },
  };
}
