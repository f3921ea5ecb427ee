// Receiving multipart uploads: every file part streams straight into the object store under a key the
// service generates (size and sha256 computed on the way); nothing is buffered whole in memory. Zip parts
// can be expanded (models): the zip streams to a temp file, then each entry streams into the store.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { AppError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';

export type UploadPart = { type: 'field'; fieldname: string; value: unknown } | { type: 'file'; fieldname: string; filename: string; file: Readable };

export interface StoredFile {
  path: string;
  sizeBytes: number;
  sha256: string;
  objectKey: string;
}

export interface UploadLimits {
  maxFileBytes: number;
  maxRequestBytes: number;
  maxFiles: number;
}

export interface ReceiveOptions {
  store: ObjectStore;
  /** Object key for a new file id; keys never contain user input. */
  keyFor: (fileId: string) => string;
  limits: UploadLimits;
  /** Expand `.zip` parts into their entries (models); otherwise a zip is stored as one file (datasets). */
  expandZips: boolean;
  tmpDir: string;
}

/**
 * A user-supplied file name, made safe to store as a display path: '/'-separated, relative, no '..',
 * no control characters, NFC-normalised. It is only ever a label in the database, never an object key.
 */
export function sanitizeUploadPath(raw: string): string {
  const name = raw.normalize('NFC').replace(/\\/g, '/');
  // eslint-disable-next-line no-control-regex
  if (!name || /[\u0000-\u001f\u007f]/.test(name))
    throw new AppError('INVALID_UPLOAD', 'file name is empty or has control characters', { filename: raw });
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name))
    throw new AppError('INVALID_UPLOAD', `file name must be relative: ${JSON.stringify(raw)}`, { filename: raw });
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length === 0 || segments.some((s) => s === '..'))
    throw new AppError('INVALID_UPLOAD', `file name may not contain "..": ${JSON.stringify(raw)}`, { filename: raw });
  const clean = segments.join('/');
  if (clean.length > 512) throw new AppError('INVALID_UPLOAD', 'file name longer than 512 characters', { filename: raw.slice(0, 64) });
  return clean;
}

/** Counts bytes against the request-wide limit while passing data through. */
class RequestBudget {
  used = 0;
  constructor(private readonly max: number) {}
  meter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.used += chunk.length;
        if (this.used > this.max) cb(new AppError('PAYLOAD_TOO_LARGE', `request larger than ${this.max} bytes`, { limitBytes: this.max }));
        else cb(null, chunk);
      },
    });
  }
}

export async function receiveUpload(
  parts: AsyncIterable<UploadPart>,
  opts: ReceiveOptions,
): Promise<{ fields: Record<string, string>; files: StoredFile[] }> {
  const fields: Record<string, string> = {};
  const files: StoredFile[] = [];
  const budget = new RequestBudget(opts.limits.maxRequestBytes);
  const seen = new Set<string>();
  const add = (f: StoredFile) => {
    if (seen.has(f.path)) throw new AppError('INVALID_UPLOAD', `duplicate file ${f.path}`, { path: f.path });
    if (files.length >= opts.limits.maxFiles)
      throw new AppError('PAYLOAD_TOO_LARGE', `more than ${opts.limits.maxFiles} files`, { limitFiles: opts.limits.maxFiles });
    seen.add(f.path);
    files.push(f);
  };

  for await (const part of parts) {
    if (part.type === 'field') {
      fields[part.fieldname] = String(part.value);
      continue;
    }
    const filePath = sanitizeUploadPath(part.filename || part.fieldname);
    if (opts.expandZips && filePath.toLowerCase().endsWith('.zip')) {
      for (const f of await expandZip(part.file, budget, opts)) add(f);
      continue;
    }
    const fileId = crypto.randomUUID();
    const objectKey = opts.keyFor(fileId);
    // The request-wide budget is enforced through the put's own limit (no extra stream stage on the hot path).
    const remaining = opts.limits.maxRequestBytes - budget.used;
    const put = await opts.store.put(objectKey, part.file, { maxBytes: Math.min(opts.limits.maxFileBytes, remaining) });
    budget.used += put.sizeBytes;
    add({ path: filePath, objectKey, ...put });
  }
  return { fields, files };
}

async function expandZip(body: Readable, budget: RequestBudget, opts: ReceiveOptions): Promise<StoredFile[]> {
  await fsp.mkdir(opts.tmpDir, { recursive: true });
  const tmp = path.join(opts.tmpDir, `upload-${crypto.randomUUID()}.zip`);
  try {
    await pipeline(body, budget.meter(), fs.createWriteStream(tmp));
    return await storeZipEntries(tmp, opts);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

const openZip = (file: string) =>
  new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true }, (err, zip) =>
      err ? reject(err) : resolve(zip),
    ),
  );

async function storeZipEntries(file: string, opts: ReceiveOptions): Promise<StoredFile[]> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(file);
  } catch (err) {
    throw new AppError('INVALID_UPLOAD', `not a readable zip archive: ${(err as Error).message}`);
  }
  const out: StoredFile[] = [];
  let expanded = 0;
  try {
    const entries: yauzl.Entry[] = await new Promise((resolve, reject) => {
      const list: yauzl.Entry[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        list.push(e);
        zip.readEntry();
      });
      zip.on('end', () => resolve(list));
      zip.on('error', (err: Error) => reject(new AppError('INVALID_UPLOAD', `corrupt zip archive: ${err.message}`)));
      zip.readEntry();
    });
    const fileEntries = entries.filter((e) => !e.fileName.endsWith('/') && !/(^|\/)(__MACOSX|\.DS_Store)/.test(e.fileName));
    // Budgets from the central directory, before a single entry is written (a 20k-entry zip stored 20k objects
    // before its 413; a 2 MB zip expanded to 2 GB before its 422).
    if (fileEntries.length > opts.limits.maxFiles) {
      throw new AppError('PAYLOAD_TOO_LARGE', `zip holds ${fileEntries.length} files; at most ${opts.limits.maxFiles} are accepted`, {
        limitFiles: opts.limits.maxFiles,
      });
    }
    const declared = fileEntries.reduce((sum, e) => sum + e.uncompressedSize, 0);
    const tooBig = fileEntries.find((e) => e.uncompressedSize > opts.limits.maxFileBytes);
    if (tooBig || declared > opts.limits.maxRequestBytes) {
      throw new AppError('PAYLOAD_TOO_LARGE', `zip expands to ${declared} bytes, beyond the upload limits`, {
        expandedBytes: declared,
        limitBytes: opts.limits.maxRequestBytes,
        limitFileBytes: opts.limits.maxFileBytes,
      });
    }
    const names = fileEntries.map((e) => sanitizeUploadPath(e.fileName));
    const prefix = commonFolder(names);
    for (const [i, entry] of fileEntries.entries()) {
      expanded += entry.uncompressedSize;
      if (entry.uncompressedSize > opts.limits.maxFileBytes || expanded > opts.limits.maxRequestBytes) {
        throw new AppError('PAYLOAD_TOO_LARGE', `zip entry ${names[i]} expands beyond the upload limit`, { limitBytes: opts.limits.maxFileBytes });
      }
      const stream = await new Promise<Readable>((resolve, reject) =>
        zip.openReadStream(entry, (err, s) =>
          err ? reject(new AppError('INVALID_UPLOAD', `cannot read zip entry ${names[i]}: ${err.message}`)) : resolve(s),
        ),
      );
      // yauzl's size check can fail after the store stopped reading: without a listener that late error would crash the process.
      stream.on('error', () => {});
      const objectKey = opts.keyFor(crypto.randomUUID());
      const put = await opts.store
        .put(objectKey, stream, { maxBytes: opts.limits.maxFileBytes })
        .catch((err: Error) => {
          throw err instanceof AppError ? err : new AppError('INVALID_UPLOAD', `corrupt zip entry ${names[i]}: ${err.message}`);
        })
        .finally(() => stream.destroy());
      out.push({ path: names[i].slice(prefix.length), objectKey, ...put });
    }
    return out;
  } finally {
    zip.close();
  }
}

/** "model/" when every path sits inside that one folder (as when a folder is zipped), else "". */
function commonFolder(paths: string[]): string {
  if (paths.length === 0 || !paths.every((p) => p.includes('/'))) return '';
  const first = paths[0].split('/')[0] + '/';
  return paths.every((p) => p.startsWith(first)) ? first : '';
}
