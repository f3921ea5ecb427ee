// NPZ: the arrays of an NPY dataset in one .npz (see parsers/npz.ts).
import { parseNpz } from '../parsers/npz.ts';
import type { DatasetFormatDefinition } from './format.ts';

export const npzFormat: DatasetFormatDefinition = {
  name: 'npz',
  filePatterns: [/\.npz$/i],
  uploadable: true,
  description: 'one `.npz` with those arrays',
  parse: parseNpz,
};
