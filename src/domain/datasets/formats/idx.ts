// IDX: MNIST-style image and label files, optionally gzipped (see parsers/idx.ts).
import { parseIdx } from '../parsers/idx.ts';
import type { DatasetFormatDefinition } from './format.ts';

export const idxFormat: DatasetFormatDefinition = {
  name: 'idx',
  filePatterns: [/idx[13]-ubyte(\.gz)?$/i],
  uploadable: true,
  description: 'MNIST-style IDX files (optionally .gz)',
  parse: parseIdx,
};
