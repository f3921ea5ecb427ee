// Embedded default object store: one file per key under rootDir. Puts write a temp file in the target
// folder and rename it, so readers never see a partial object and a failed put leaves nothing behind.
import { randomUUID } from 'node:crypto';
import { access, constants, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.ts';
import { HashingLimitStream, STREAM_BUFFER_BYTES, toReadable } from './hashing.ts';
import { assertDeletablePrefix, assertValidKey, assertValidPrefix, objectNotFound } from './keys.ts';
import type { ByteRange, ObjectInfo, ObjectStore, PutResult } from './object-store.ts';

const isNotFound = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  private readonly rootDir: string;

  constructor(rootDir: string) {
    this.rootDir = path.resolve(rootDir);
  }

  async init(): Promise<void> {
    await mkdir(this.rootDir, { recursive: true });
  }

  async put(key: string, body: Readable | Buffer, opts: { maxBytes?: number } = {}): Promise<PutResult> {
    const source = toReadable(body);
    // The body may fail while the folder and temp file are being prepared. Streams that only emit 'error'
    // without being destroyed (yauzl's entry streams) would then leave the pipeline below waiting forever.
    let early = null as Error | null;
    const onEarlyError = (err: unknown) => {
      early ??= err instanceof Error ? err : new Error(`source stream failed: ${String(err)}`);
    };
    source.on('error', onEarlyError);
    const file = this.pathOf(key);
    await mkdir(path.dirname(file), { recursive: true });
    // Temp names start with '.', which valid keys never do, so list() can skip them.
    const temp = path.join(path.dirname(file), `.tmp-${randomUUID()}`);
    const meter = new HashingLimitStream(opts.maxBytes);
    // Created before streaming starts, so the cleanup below cannot run ahead of a pending open.
    const handle = await open(temp, 'wx');
    try {
      source.off('error', onEarlyError);
      if (early) throw early;
      await pipeline(source, meter, handle.createWriteStream({ highWaterMark: STREAM_BUFFER_BYTES }));
      await rename(temp, file);
    } catch (e) {
      await handle.close().catch(() => {});
      await rm(temp, { force: true });
      throw e;
    }
    return meter.result();
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    try {
      // Opening first turns a missing key into NOT_FOUND here instead of a later stream error.
      const handle = await open(file, 'r');
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        throw objectNotFound(key);
      }
      return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
    } catch (e) {
      throw isNotFound(e) ? objectNotFound(key) : e;
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (e) {
      throw isNotFound(e) ? objectNotFound(key) : e;
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { sizeBytes: info.size } : null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    assertDeletablePrefix(prefix);
    if (prefix.endsWith('/')) {
      await rm(this.pathOf(prefix.slice(0, -1)), { recursive: true, force: true });
      return;
    }
    for await (const key of this.list(prefix)) await unlink(this.pathOf(key));
  }

  async *list(prefix: string): AsyncIterable<string> {
    assertValidPrefix(prefix);
    // Like S3, a prefix need not end at a '/': walk the folder it names and filter by the full string.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    for await (const key of this.walk(folder)) {
      if (key.startsWith(prefix)) yield key;
    }
  }

  async *listAged(prefix: string): AsyncIterable<{ key: string; modifiedAt: Date }> {
    for await (const key of this.list(prefix)) {
      const info = await stat(this.pathOf(key)).catch(() => null);
      if (info) yield { key, modifiedAt: info.mtime };
    }
  }

  async removeStaleTemporaries(olderThan: Date): Promise<number> {
    let removed = 0;
    // Depth first: a folder is removed when nothing is left in it (and it is old enough).
    const visit = async (dir: string, isRoot: boolean): Promise<boolean> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (isNotFound(e)) return true;
        throw e;
      }
      let left = entries.length;
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (await visit(full, false)) left--;
        } else if (entry.name.startsWith('.tmp-')) {
          const info = await stat(full).catch(() => null);
          if (info && info.mtime < olderThan) {
            await rm(full, { force: true });
            removed++;
            left--;
          }
        }
      }
      if (isRoot || left > 0) return false;
      const info = await stat(dir).catch(() => null);
      if (!info || info.mtime >= olderThan) return false;
      await rmdir(dir).catch(() => {});
      return true;
    };
    await visit(this.rootDir, true);
    return removed;
  }

  async ping(): Promise<void> {
    try {
      await access(this.rootDir, constants.R_OK | constants.W_OK);
    } catch (e) {
      throw new AppError('UNAVAILABLE', `Object store folder ${this.rootDir} is not writable`, undefined, { cause: e });
    }
  }

  private async *walk(folder: string): AsyncIterable<string> {
    let entries;
    try {
      entries = await readdir(folder === '' ? this.rootDir : this.pathOf(folder), { withFileTypes: true });
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const key = folder === '' ? entry.name : `${folder}/${entry.name}`;
      if (entry.isDirectory()) yield* this.walk(key);
      else if (entry.isFile()) yield key;
    }
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return path.join(this.rootDir, ...key.split('/'));
  }
}
