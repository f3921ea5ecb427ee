// Upload → stored TF.js model: detects the format of the uploaded files from their content (model-format
// registry), and converts Keras/ONNX uploads in the conversion worker. The converted model.json + shards are
// stored beside the originals, which stay under `source/<name>` (the TF.js loaders never look there).
import crypto from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import type { Config } from '../../config.ts';
import { importInWorker } from '../../formats/models/converter.ts';
import { detectFormat, type SourceFormatName } from '../../formats/models/registry.ts';
import { isZip } from '../../formats/models/signatures.ts';
import type { DetectFile, LocalFile, SourceInfo, TensorLayout } from '../../formats/models/types.ts';
import { modelArtifactsToFiles } from '../../ml/model-io.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { StoredFile } from '../uploads.ts';

export const SOURCE_DIR = 'source/';
export const isSourcePath = (p: string) => p.startsWith(SOURCE_DIR);

/** What a stored model was converted from (columns sourceFormat/Version/Layout/Details of Model). */
export interface ModelSource {
  format: SourceFormatName;
  version: string | null;
  layout: TensorLayout | null;
  details: { inputShape: (number | null)[] | null; outputs: SourceInfo['outputs']; notes: string[] } | null;
}

export const TFJS_SOURCE: ModelSource = { format: 'tfjs-layers', version: null, layout: null, details: null };

const HEAD_BYTES = 64;

interface Deps {
  store: ObjectStore;
  config: Config;
  keyFor: (fileId: string) => string;
}

async function readHead(store: ObjectStore, key: string): Promise<Buffer> {
  const stream = await store.get(key);
  const chunks: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      have += (chunk as Buffer).length;
      if (have >= HEAD_BYTES) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, HEAD_BYTES);
}

async function zipEntryNames(file: string): Promise<string[] | undefined> {
  try {
    const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true });
    try {
      const names: string[] = [];
      for await (const entry of zip.eachEntry()) names.push(entry.fileName);
      return names;
    } finally {
      zip.close();
    }
  } catch {
    return undefined; // not a readable zip: no format claims it by its entries
  }
}

/** Per upload: a temp dir the originals are copied into (once) for detectors and importers. */
class Spool {
  private readonly local = new Map<string, string>();
  private constructor(
    readonly dir: string,
    private readonly store: ObjectStore,
  ) {}

  static async create(tmpDir: string, store: ObjectStore): Promise<Spool> {
    await fsp.mkdir(tmpDir, { recursive: true });
    return new Spool(await fsp.mkdtemp(path.join(tmpDir, 'import-')), store);
  }

  async file(f: StoredFile): Promise<string> {
    const have = this.local.get(f.objectKey);
    if (have) return have;
    const dest = path.join(this.dir, `${this.local.size}-${path.basename(f.path).replace(/[^\w.-]/g, '_')}`);
    await pipeline(await this.store.get(f.objectKey), createWriteStream(dest, { flags: 'wx' }));
    this.local.set(f.objectKey, dest);
    return dest;
  }

  remove = () => fsp.rm(this.dir, { recursive: true, force: true });
}

async function detectFiles(files: StoredFile[], spool: Spool, deps: Deps): Promise<DetectFile[]> {
  const out: DetectFile[] = [];
  for (const f of files) {
    const head = await readHead(deps.store, f.objectKey);
    const d: DetectFile = { path: f.path, sizeBytes: f.sizeBytes, head };
    if (f.path.toLowerCase().endsWith('.json') && f.sizeBytes <= deps.config.limits.maxModelJsonBytes) {
      try {
        d.json = JSON.parse((await deps.store.getBuffer(f.objectKey)).toString('utf8'));
      } catch {
        d.json = undefined; // not JSON: a detector will not claim it, and tfjs validation reports it if it is model.json
      }
    }
    if (isZip(head)) d.zipEntries = await zipEntryNames(await spool.file(f));
    out.push(d);
  }
  return out;
}

/**
 * Detects the upload's format; TF.js files come back as they are, other formats are converted (in the worker) and
 * come back as the new model.json + shards plus the originals moved under source/.
 */
export async function convertUpload(files: StoredFile[], deps: Deps): Promise<{ files: StoredFile[]; source: ModelSource }> {
  if (files.length === 0) return { files, source: TFJS_SOURCE };
  const spool = await Spool.create(deps.config.tmpDir, deps.store);
  try {
    const detected = detectFormat(await detectFiles(files, spool, deps));
    const { format } = detected;
    if (!format.import) return { files, source: TFJS_SOURCE };
    const taken = files.filter((f) => detected.files.some((d) => d.path === f.path));
    const local: LocalFile[] = [];
    for (const f of taken) local.push({ path: f.path, localPath: await spool.file(f), sizeBytes: f.sizeBytes });
    const workDir = await fsp.mkdtemp(path.join(spool.dir, 'work-'));
    const { limits } = deps.config;
    const result = await importInWorker(format.name, local, { limits, workDir });
    const converted: StoredFile[] = [];
    for (const file of modelArtifactsToFiles(result.artifacts)) {
      const objectKey = deps.keyFor(crypto.randomUUID());
      converted.push({ path: file.path, objectKey, ...(await deps.store.put(objectKey, file.data)) });
    }
    const originals = files.map((f) => ({ ...f, path: `${SOURCE_DIR}${f.path}` }));
    const { version, layout, inputShape, outputs, notes } = result.source;
    return {
      files: [...converted, ...originals],
      source: { format: format.name as SourceFormatName, version, layout, details: { inputShape, outputs, notes } },
    };
  } finally {
    await spool.remove();
  }
}
