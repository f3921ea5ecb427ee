// Dataset ingestion: reads uploaded files (already in the object store) as streams, validates them and writes
// the canonical tensors the ML engine trains on: per split `<split>-x.npy` (uint8 | float32, [n, ...featureShape])
// and `<split>-y.npy` (int32 class indices, [n]). Rows go through temp files in opts.tmpDir, never memory.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { npyReadable } from '../../formats/npy.ts';
import { parseCsv } from './parsers/csv.ts';
import { parseIdx } from './parsers/idx.ts';
import { parseImageZip } from './parsers/images.ts';
import { ExampleBudget, invalidDataset } from './parsers/limits.ts';
import { parseNpy } from './parsers/npy.ts';
import { parseNpz } from './parsers/npz.ts';
import type { DatasetParser, ParseContext, ParsedSplit } from './parsers/types.ts';

export type DatasetFormat = 'csv' | 'npy' | 'npz' | 'idx' | 'images';
export type TensorRole = 'train-x' | 'train-y' | 'test-x' | 'test-y';
/** An uploaded file; `path` is the user-supplied name. */
export interface SourceFile {
  path: string;
  sizeBytes: number;
  open(): Promise<Readable>;
}
/** Streams ONE complete .npy file into the store. */
export type TensorWriter = (role: TensorRole, npy: Readable) => Promise<void>;
export interface IngestOptions {
  format?: DatasetFormat;
  labelColumn?: string;
  tmpDir: string;
  maxExamples?: number;
}
export interface DatasetMeta {
  format: DatasetFormat;
  examples: number;
  featureShape: number[];
  dtype: 'uint8' | 'float32';
  numClasses: number;
  classNames: string[];
  splits: { train: number; test?: number };
  normalization: { scale: number; offset: number };
}

const PARSERS: Record<DatasetFormat, DatasetParser> = { csv: parseCsv, npy: parseNpy, npz: parseNpz, idx: parseIdx, images: parseImageZip };

const FORMAT_BY_NAME: Array<[RegExp, DatasetFormat]> = [
  [/\.csv$/i, 'csv'],
  [/\.npy$/i, 'npy'],
  [/\.npz$/i, 'npz'],
  [/\.zip$/i, 'images'],
  [/idx[13]-ubyte(\.gz)?$/i, 'idx'],
];

/** The format of an upload, from its file names; INVALID_DATASET when none or several formats match. */
export function detectFormat(paths: string[]): DatasetFormat {
  const found = new Set<DatasetFormat>();
  for (const path of paths) {
    const match = FORMAT_BY_NAME.find(([pattern]) => pattern.test(path));
    if (match) found.add(match[1]);
  }
  if (found.size === 1) return [...found][0];
  if (found.size === 0) throw invalidDataset(`cannot tell the dataset format from the file names (${paths.join(', ') || 'no files'})`);
  throw invalidDataset(`files of several dataset formats were uploaded together (${[...found].join(', ')})`);
}

export async function ingestDataset(files: SourceFile[], opts: IngestOptions, write: TensorWriter): Promise<DatasetMeta> {
  if (files.length === 0) throw invalidDataset('no dataset files were uploaded');
  const format = opts.format ?? detectFormat(files.map((f) => f.path));
  await mkdir(opts.tmpDir, { recursive: true });
  const workDir = await mkdtemp(join(opts.tmpDir, 'ingest-'));
  const releases: Array<() => Promise<void> | void> = [];
  const ctx: ParseContext = {
    workDir,
    labelColumn: opts.labelColumn ?? 'label',
    budget: new ExampleBudget(opts.maxExamples),
    defer: (release) => {
      releases.push(release);
    },
  };
  try {
    const parsed = await PARSERS[format](files, ctx);
    if (parsed.train.x.rows === 0) throw invalidDataset('the dataset has no training examples');
    const splits = [
      ['train', parsed.train],
      ['test', parsed.test],
    ] as const;
    for (const [split, tensors] of splits) {
      if (tensors) await writeSplit(split, tensors, parsed.dtype, parsed.featureShape, write);
    }
    return {
      format,
      examples: parsed.train.x.rows + (parsed.test?.x.rows ?? 0),
      featureShape: parsed.featureShape,
      dtype: parsed.dtype,
      numClasses: parsed.classNames.length,
      classNames: parsed.classNames,
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
