// The dataset-format registry: the one list of formats. Adding a format is one file declaring a
// DatasetFormatDefinition plus one line in BUILT_IN below (or a registerDatasetFormat call, as a test does).
// Schema enums, upload detection, the upload route's documentation and the service's validation all read it.
// The list is sealed the first time it is read (the TypeBox schemas derive their enums at import): registering
// later would leave those enums without the new format, so it throws instead.
import { invalidDataset } from '../parsers/limits.ts';
import { builtinFormat } from './builtin.ts';
import { csvFormat } from './csv.ts';
import type { DatasetFormatDefinition } from './format.ts';
import { idxFormat } from './idx.ts';
import { imagesFormat } from './images.ts';
import { npyFormat } from './npy.ts';
import { npzFormat } from './npz.ts';

export type { DatasetFormatDefinition };

const BUILT_IN: DatasetFormatDefinition[] = [csvFormat, npyFormat, npzFormat, idxFormat, imagesFormat, builtinFormat];

const formats = new Map<string, DatasetFormatDefinition>();
let sealed = false;

/** Adds a format. Call it before anything reads the list (in practice: before the app's modules are imported). */
export function registerDatasetFormat(format: DatasetFormatDefinition): void {
  if (!/^[a-z][a-z0-9-]*$/.test(format.name)) throw new Error(`dataset format name ${JSON.stringify(format.name)} is not lower-case kebab`);
  if (formats.has(format.name)) throw new Error(`dataset format ${format.name} is already registered`);
  if (sealed) throw new Error(`dataset format ${format.name} registered after the format list was read; register formats first`);
  formats.set(format.name, format);
}

for (const format of BUILT_IN) registerDatasetFormat(format);

/** Every registered format, in registration order. */
export function datasetFormats(): readonly DatasetFormatDefinition[] {
  sealed = true;
  return [...formats.values()];
}

/** The formats an upload may have (all but the built-in datasets'). */
export const uploadableDatasetFormats = () => datasetFormats().filter((f) => f.uploadable);

/** The format called `name`, or undefined. */
export function findDatasetFormat(name: string): DatasetFormatDefinition | undefined {
  sealed = true;
  return formats.get(name);
}

/** The format of an upload, from its file names; INVALID_DATASET when none or several formats match. */
export function detectFormat(paths: string[]): DatasetFormatDefinition {
  const found = new Set<DatasetFormatDefinition>();
  for (const path of paths) {
    const match = uploadableDatasetFormats().find((f) => f.filePatterns.some((pattern) => pattern.test(path)));
    if (match) found.add(match);
  }
  const [only] = found;
  if (found.size === 1 && only) return only;
  if (found.size === 0) throw invalidDataset(`cannot tell the dataset format from the file names (${paths.join(', ') || 'no files'})`);
  throw invalidDataset(`files of several dataset formats were uploaded together (${[...found].map((f) => f.name).join(', ')})`);
}
