// Keras 3 native format (.keras): a zip of config.json, metadata.json and model.weights.h5. Recognised by its
// entries (from a .keras file), or by the same three files when the zip was uploaded as .zip and expanded.
import { importKerasZip } from '../keras/import-keras.ts';
import { exportKeras } from '../keras/export.ts';
import { isHdf5, isZip } from './signatures.ts';
import type { ModelFormat } from './types.ts';

const KERAS_ENTRIES = ['config.json', 'model.weights.h5'];

export const kerasFormat = {
  name: 'keras',
  exportName: 'keras',
  title: 'Keras 3 (.keras)',
  extension: '.keras',
  mediaType: 'application/zip',
  detect(files) {
    const zipped = files.find((f) => isZip(f.head) && KERAS_ENTRIES.every((e) => f.zipEntries?.includes(e)));
    if (zipped) return [zipped];
    const config = files.find((f) => f.path === 'config.json' && f.json !== undefined);
    const weights = files.find((f) => f.path === 'model.weights.h5' && isHdf5(f.head));
    if (!config || !weights) return null;
    const metadata = files.find((f) => f.path === 'metadata.json');
    return metadata ? [config, weights, metadata] : [config, weights];
  },
  import: (files, ctx) => importKerasZip(files, ctx),
  export: (artifacts, opts) => exportKeras(artifacts, opts),
} as const satisfies ModelFormat<'keras', 'keras'>;
