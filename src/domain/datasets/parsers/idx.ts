// IDX (MNIST style): train-images-idx3-ubyte + train-labels-idx1-ubyte, optionally t10k-* for the test split,
// each optionally gzipped. Big-endian headers: magic 0x00000803 + n, rows, cols (uint8 images) / 0x00000801 + n.
// Only unsigned-byte data (type 0x08) is accepted, so non-finite values cannot occur; the header's counts are
// charged to the expansion budget before any data is read.
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ByteReader } from './byte-reader.ts';
import { IntList, LabelDictionary } from './labels.ts';
import { invalidDataset } from './limits.ts';
import { baseName } from './source-name.ts';
import { RowSpool } from './spool.ts';
import type { DatasetParser, ParseContext, SourceFile, SpooledFeatures } from './types.ts';

const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;
const NAME = /^(train|t10k|test)-(images|labels)[-.](idx[13])-ubyte(\.gz)?$/i;

type Split = 'train' | 'test';
interface IdxFiles {
  images?: SourceFile;
  labels?: SourceFile;
}

export const parseIdx: DatasetParser = async (files, ctx) => {
  const bySplit: Record<Split, IdxFiles> = { train: {}, test: {} };
  for (const file of files) {
    const match = NAME.exec(baseName(file.path));
    if (!match)
      throw invalidDataset(
        `unexpected file ${file.path}: expected train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte`,
      );
    const split: Split = match[1].toLowerCase() === 'train' ? 'train' : 'test';
    const kind = match[2].toLowerCase() as keyof IdxFiles;
    if ((kind === 'images') !== (match[3].toLowerCase() === 'idx3')) throw invalidDataset(`${file.path}: images are idx3, labels idx1`);
    if (bySplit[split][kind]) throw invalidDataset(`two ${split} ${kind} files: ${bySplit[split][kind].path} and ${file.path}`);
    bySplit[split][kind] = file;
  }
  const hasTest = Boolean(bySplit.test.images || bySplit.test.labels);
  for (const split of hasTest ? (['train', 'test'] as const) : (['train'] as const)) {
    if (!bySplit[split].images || !bySplit[split].labels) throw invalidDataset(`the ${split} split needs both an images and a labels IDX file`);
  }
  const labels = new LabelDictionary();
  const train = await readSplit(bySplit.train as Required<IdxFiles>, labels, ctx, 'train', undefined);
  const test = hasTest ? await readSplit(bySplit.test as Required<IdxFiles>, labels, ctx, 'test', train.featureShape) : undefined;
  const { classNames, toClass } = labels.finish();
  return {
    featureShape: train.featureShape,
    dtype: 'uint8',
    classNames,
    train: { x: train.x, y: toClass(train.keys) },
    test: test && { x: test.x, y: toClass(test.keys) },
  };
};

/**
 * The file's bytes, gunzipped when its name ends in .gz; zlib failures become INVALID_DATASET. The gunzip output is
 * capped by the expansion budget as it streams (the readers also stop at the header's byte count).
 */
async function openIdx(file: SourceFile, ctx: ParseContext): Promise<ByteReader> {
  const src = await file.open();
  const gz = /\.gz$/i.test(file.path);
  const stream: Readable = gz ? pipeline(src, createGunzip(), () => {}) : src;
  return new ByteReader(capped(stream, file.path, gz ? ctx : undefined), file.path);
}

async function* capped(stream: Readable, path: string, ctx: ParseContext | undefined): AsyncGenerator<Buffer> {
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      ctx?.budget.checkDecodedBytes(total, path);
      yield chunk;
    }
  } catch (err) {
    if (/^Z_/.test((err as { code?: string }).code ?? '')) throw invalidDataset(`${path}: not valid gzip data (${(err as Error).message})`);
    throw err;
  } finally {
    stream.destroy();
  }
}

async function readHeader(reader: ByteReader, file: SourceFile, magic: number, dims: number): Promise<number[]> {
  const found = (await reader.read(4, 'IDX header')).readUInt32BE(0);
  if (found !== magic) {
    throw invalidDataset(`${file.path}: IDX magic 0x${found.toString(16).padStart(8, '0')}, expected 0x${magic.toString(16).padStart(8, '0')}`);
  }
  const sizes = await reader.read(4 * dims, 'IDX header');
  return Array.from({ length: dims }, (_, i) => sizes.readUInt32BE(4 * i));
}

async function readSplit(files: Required<IdxFiles>, labels: LabelDictionary, ctx: ParseContext, split: Split, trainShape: number[] | undefined) {
  const keys = await readLabels(files.labels, labels, ctx);
  const images = await openIdx(files.images, ctx);
  try {
    const [n, rows, cols] = await readHeader(images, files.images, IMAGES_MAGIC, 3);
    const featureShape = [rows, cols, 1];
    if (rows === 0 || cols === 0) throw invalidDataset(`${files.images.path}: empty images (${rows}x${cols})`);
    if (trainShape && trainShape.join() !== featureShape.join()) {
      throw invalidDataset(`${files.images.path}: ${rows}x${cols} images, the training images are ${trainShape[0]}x${trainShape[1]}`);
    }
    if (n !== keys.length) throw invalidDataset(`${files.images.path} holds ${n} images but ${files.labels.path} ${keys.length} labels`);
    ctx.budget.take(n);
    ctx.budget.expand(n * rows * cols, 1, files.images.path);
    const spool = await RowSpool.create(ctx, `${split}-x.u8`);
    for await (const chunk of images.exact(n * rows * cols, 1)) await spool.append(chunk);
    const x: SpooledFeatures = await spool.finish(n);
    return { featureShape, x, keys };
  } finally {
    await images.close();
  }
}

async function readLabels(file: SourceFile, labels: LabelDictionary, ctx: ParseContext): Promise<Int32Array> {
  const reader = await openIdx(file, ctx);
  try {
    const [n] = await readHeader(reader, file, LABELS_MAGIC, 1);
    // Labels are held in memory: their count is checked before one is read.
    ctx.budget.checkExamples(n, file.path);
    ctx.budget.expand(n, 4, file.path);
    const keyOfByte = new Int32Array(256).fill(-1); // avoids a string lookup per label
    const keys = new IntList();
    for await (const chunk of reader.exact(n, 1)) {
      for (const byte of chunk) {
        if (keyOfByte[byte] < 0) keyOfByte[byte] = labels.keyOf(String(byte));
        keys.push(keyOfByte[byte]);
      }
    }
    return keys.toInt32Array();
  } finally {
    await reader.close();
  }
}
