// Dataset ingestion: reads uploaded files (already in the object store) as streams, validates them and writes
// the canonical tensors the ML engine trains on: per split `<split>-x.npy` (uint8 | float32, [n, ...featureShape])
// and `<split>-y.npy` (int32 class indices, [n]). Rows go through temp files in opts.tmpDir, never memory.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { npyReadable } from '../../formats/npy.ts';
import { detectFormat, findDatasetFormat } from './formats/registry.ts';
import { ExampleBudget, invalidDataset, type IngestLimits } from './parsers/limits.ts';
import type { ParseContext, ParsedSplit, SourceFile } from './parsers/types.ts';

export type TensorRole = 'train-x' | 'train-y' | 'test-x' | 'test-y';
/** Streams ONE complete .npy file into the store. */
export type TensorWriter = (role: TensorRole, npy: Readable) => Promise<void>;
export interface IngestOptions {
  /** A registered format's name (see formats/registry.ts); detected from the file names when absent. */
  format?: string;
  labelColumn?: string;
  /** Names replacing the parsed class names (same count, class-index order). */
  classNames?: string[];
  tmpDir: string;
  maxExamples?: number;
  /** Expansion budget (elements, decoded bytes, image pixels); unlimited when absent. */
  limits?: IngestLimits;
}
export interface DatasetMeta {
  format: string;
  examples: number;
  featureShape: number[];
  dtype: 'uint8' | 'float32';
  numClasses: number;
  classNames: string[];
  splits: { train: number; test?: number };
  normalization: { scale: number; offset: number };
}

export async function ingestDataset(files: SourceFile[], opts: IngestOptions, write: TensorWriter): Promise<DatasetMeta> {
  if (files.length === 0) throw invalidDataset('no dataset files were uploaded');
  const format = opts.format === undefined ? detectFormat(files.map((f) => f.path)) : findDatasetFormat(opts.format);
  if (!format) throw invalidDataset(`unknown dataset format ${JSON.stringify(opts.format)}`);
  await mkdir(opts.tmpDir, { recursive: true });
  const workDir = await mkdtemp(join(opts.tmpDir, 'ingest-'));
  const releases: Array<() => Promise<void> | void> = [];
  const ctx: ParseContext = {
    workDir,
    labelColumn: opts.labelColumn ?? 'label',
    budget: new ExampleBudget(
      { maxExamples: opts.maxExamples, ...opts.limits },
      files.reduce((sum, f) => sum + f.sizeBytes, 0),
    ),
    defer: (release) => {
      releases.push(release);
    },
  };
  try {
    const parsed = await format.parse(files, ctx);
    if (parsed.train.x.rows === 0) throw invalidDataset('the dataset has no training examples');
    if (opts.classNames && opts.classNames.length !== parsed.classNames.length) {
      throw invalidDataset(
        `classNames names ${opts.classNames.length} classes but the dataset has ${parsed.classNames.length} (${parsed.classNames.join(', ')})`,
        {
          field: 'classNames',
        },
      );
    }
    const splits = [
      ['train', parsed.train],
      ['test', parsed.test],
    ] as const;
    for (const [split, tensors] of splits) {
      if (tensors) await writeSplit(split, tensors, parsed.dtype, parsed.featureShape, write);
    }
    return {
      format: format.name,
      examples: parsed.train.x.rows + (parsed.test?.x.rows ?? 0),
      featureShape: parsed.featureShape,
      dtype: parsed.dtype,
      numClasses: parsed.classNames.length,
      classNames: opts.classNames ?? parsed.classNames,
      splits: parsed.test ? { train: parsed.train.x.rows, test: parsed.test.x.rows } : { train: parsed.train.x.rows },
      normalization: parsed.dtype === 'uint8' ? { scale: 1 / 255, offset: 0 } : { scale: 1, offset: 0 },
    };
  } finally {
    // Cleanup must not mask the original error, so a failing release is ignored.
    for (const release of releases.reverse())
      await Promise.resolve()
        .then(release)
        .catch(() => {});
    await rm(workDir, { recursive: true, force: true });
  }
}

async function writeSplit(split: 'train' | 'test', tensors: ParsedSplit, dtype: 'uint8' | 'float32', featureShape: number[], write: TensorWriter) {
  const { x, y } = tensors;
  const labels = Buffer.alloc(y.length * 4);
  y.forEach((label, i) => labels.writeInt32LE(label, i * 4));
  await writeTensor(write, `${split}-x`, npyReadable(dtype, [x.rows, ...featureShape], x.data()));
  await writeTensor(write, `${split}-y`, npyReadable('int32', [y.length], [labels]));
}

/** Destroying the stream afterwards closes its temp-file reader even when the writer failed halfway. */
async function writeTensor(write: TensorWriter, role: TensorRole, npy: Readable): Promise<void> {
  try {
    await write(role, npy);
  } finally {
    npy.destroy();
  }
}
