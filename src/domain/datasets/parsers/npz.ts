// NPZ: one zip (stored or deflated members) holding the arrays of an NPY dataset: x/y or x_train/y_train[/x_test/y_test].
import { invalidDataset } from './limits.ts';
import { readNpyArrays } from './npy.ts';
import type { DatasetParser } from './types.ts';
import { openZip } from './zip.ts';

export const parseNpz: DatasetParser = async (files, ctx) => {
  if (files.length !== 1 || !/\.npz$/i.test(files[0].path)) throw invalidDataset('an NPZ dataset is exactly one .npz file');
  const zip = await openZip(files[0], ctx);
  const members = zip.entries.filter((entry) => !entry.fileName.endsWith('/'));
  // The central directory declares every member's expanded size (yauzl verifies it while reading).
  ctx.budget.checkDecodedBytes(
    members.reduce((sum, entry) => sum + entry.uncompressedSize, 0),
    files[0].path,
  );
  return readNpyArrays(
    members.map((entry) => ({ name: entry.fileName, open: () => zip.open(entry) })),
    ctx,
  );
};
