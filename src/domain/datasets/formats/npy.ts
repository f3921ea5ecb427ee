// NPY: x.npy + y.npy, or x_train/y_train[/x_test/y_test] (see parsers/npy.ts).
import { parseNpy } from '../parsers/npy.ts';
import type { DatasetFormatDefinition } from './format.ts';

export const npyFormat: DatasetFormatDefinition = {
  name: 'npy',
  filePatterns: [/\.npy$/i],
  uploadable: true,
  description: 'NumPy `x.npy` + `y.npy` (or x_train/y_train/x_test/y_test)',
  parse: parseNpy,
};
