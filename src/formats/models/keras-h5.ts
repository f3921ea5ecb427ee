// Keras HDF5 (.h5): model.save('x.h5') from Keras 2.0-2.15 or Keras 3's legacy writer, or weights alone
// (model.save_weights) uploaded with the architecture JSON from model.to_json(). Recognised by the HDF5 signature.
import { importKerasH5 } from '../keras/import-h5.ts';
import { isObject } from '../keras/config.ts';
import { exportKerasH5 } from '../keras/export.ts';
import { isHdf5 } from './signatures.ts';
import type { DetectFile, ModelFormat } from './types.ts';

/** model.to_json(): a Keras model config (class_name + config) at the top level. */
const isKerasArchitecture = (f: DetectFile) => isObject(f.json) && typeof f.json.class_name === 'string' && 'config' in f.json;

export const kerasH5Format = {
  name: 'keras-h5',
  exportName: 'h5',
  title: 'Keras HDF5 (.h5)',
  extension: '.h5',
  mediaType: 'application/x-hdf5',
  detect(files) {
    const h5 = files.filter((f) => isHdf5(f.head));
    if (h5.length !== 1) return null;
    const arch = files.filter(isKerasArchitecture);
    return [h5[0], ...arch.slice(0, 1)];
  },
  import: (files) => importKerasH5(files),
  export: (artifacts, opts) => exportKerasH5(artifacts, opts),
} as const satisfies ModelFormat<'keras-h5', 'h5'>;
