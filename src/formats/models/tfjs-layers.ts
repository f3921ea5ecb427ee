// TF.js Layers (model.json + weight shards): the format models are stored and trained in. Uploads are kept as
// they are (validated by src/domain/models/manifest.ts), so there is nothing to import. Exported as a zip of
// model.json + group1-shard*.bin exactly as tfjs writes them (quantized manifests included).
import { isObject } from '../keras/config.ts';
import { zipBuffers } from '../zip.ts';
import { modelArtifactsToFiles } from '../../ml/model-io.ts';
import type { DetectFile, ModelFormat } from './types.ts';

/** A model.json: a Layers topology with a weights manifest. */
const isModelJson = (f: DetectFile) => isObject(f.json) && 'modelTopology' in f.json && 'weightsManifest' in f.json;

export const tfjsLayersFormat = {
  name: 'tfjs-layers',
  exportName: 'tfjs',
  title: 'TF.js Layers model (model.json + weight shards)',
  extension: '.zip',
  mediaType: 'application/zip',
  // Every file of the upload: the shards are validated against the manifest afterwards.
  detect: (files) => (files.some((f) => f.path === 'model.json' || f.path.endsWith('/model.json') || isModelJson(f)) ? files : null),
  import: null,
  export: async (artifacts, opts) => ({
    data: await zipBuffers(modelArtifactsToFiles(artifacts)),
    fileName: `${opts.baseName}.zip`,
    mediaType: 'application/zip',
  }),
} as const satisfies ModelFormat<'tfjs-layers', 'tfjs'>;
