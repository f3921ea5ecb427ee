// Zip archives (NPZ and image folders) need random access, so the upload is first copied to a temp file.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { isAppError } from '../../../errors.ts';
import { invalidDataset } from './limits.ts';
import type { ParseContext, SourceFile } from './types.ts';

export interface ZipArchive {
  entries: Entry[];
  open(entry: Entry): Promise<Readable>;
}

/** Bounds the in-memory entry list of a hostile archive. */
const MAX_ENTRIES = 1_000_000;
let copies = 0;

/** Copies `file` into ctx.workDir and opens it (ctx closes it); a corrupt archive or unsafe entry name → INVALID_DATASET. */
export async function openZip(file: SourceFile, ctx: ParseContext): Promise<ZipArchive> {
  const path = join(ctx.workDir, `upload-${++copies}.zip`);
  await pipeline(await file.open(), createWriteStream(path, { flags: 'wx' }));
  let zip: ZipFile;
  try {
    // yauzl rejects absolute, drive-letter and `..` entry names while listing; strictFileNames makes it reject
    // backslashes too instead of rewriting them, so no zip-slip name ever reaches the parsers.
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, strictFileNames: true, validateEntrySizes: true });
  } catch (err) {
    throw invalidDataset(`${file.path} is not a valid zip archive: ${(err as Error).message}`);
  }
  ctx.defer(() => zip.close());
  const entries: Entry[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      if (entries.push(entry) > MAX_ENTRIES) throw invalidDataset(`${file.path} has more than ${MAX_ENTRIES} entries`);
    }
  } catch (err) {
    if (isAppError(err)) throw err;
    throw invalidDataset(`${file.path}: bad zip entry: ${(err as Error).message}`);
  }
  return {
    entries,
    open: async (entry) => {
      const cannotRead = (err: unknown) => invalidDataset(`${file.path}: cannot read ${entry.fileName}: ${(err as Error).message}`);
      const stream = await zip.openReadStreamPromise(entry).catch((err: unknown) => {
        throw cannotRead(err);
      });
      // A size check can fail after the reader stopped early (a parser that rejected the header): without a
      // listener that late error would crash the process.
      stream.on('error', () => {});
      // Corrupt deflate data or wrong sizes surface mid-stream; they are the upload's fault, not ours.
      return Readable.from(
        (async function* () {
          try {
            yield* stream;
          } catch (err) {
            throw cannotRead(err);
          } finally {
            stream.destroy();
          }
        })(),
      );
    },
  };
}
