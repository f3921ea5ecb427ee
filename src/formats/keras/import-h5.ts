// Keras HDF5 files: a whole model saved with model.save('x.h5') (root attribute `model_config` + group
// `model_weights`; Keras 2.0-2.15 and Keras 3's legacy h5 writer), or weights alone (model.save_weights('x.h5'),
// root attribute `layer_names`) with the architecture JSON from model.to_json(). Each layer's weights are the
// datasets its group's `weight_names` attribute lists, in order: that works whether they sit one scope deep
// (Keras 2: dense/kernel:0) or two (Keras 3: dense/sequential/dense/kernel).
import fs from 'node:fs/promises';
import { AppError } from '../../errors.ts';
import type { tf } from '../../ml/tf.ts';
import type { ImportResult, LocalFile } from '../models/types.ts';
import { importKeras } from './build.ts';
import { translateKerasConfig } from './config.ts';
import { H5Reader, type H5Array } from './h5-file.ts';
import { importKeras3Weights, isKeras3WeightsFile } from './keras3-weights.ts';

const asList = (v: string | string[] | null): string[] => (v === null ? [] : Array.isArray(v) ? v : v === '' ? [] : [v]);

/** The arrays `weight_names` lists for a layer group of a legacy h5 file (root '' for weights-only files). */
export function legacyLayerArrays(reader: H5Reader, weightsRoot: string, layer: tf.layers.Layer): H5Array[] {
  const group = weightsRoot ? `${weightsRoot}/${layer.name}` : layer.name;
  if (!reader.hasGroup(group)) throw new AppError('MISSING_WEIGHTS', `the file has no weights for layer ${layer.name}`, { layer: layer.name });
  return asList(reader.attr(group, 'weight_names')).map((name) => reader.array(`${group}/${name}`));
}

function parseJson(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AppError('INVALID_MODEL', `${label} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads the Keras version recorded in the file (root or model_weights attribute). */
function kerasVersion(reader: H5Reader): string | null {
  const v = reader.attr('', 'keras_version') ?? reader.attr('model_weights', 'keras_version');
  return typeof v === 'string' ? v : null;
}

/**
 * Imports `.h5` files: one whole model, or a weights-only file plus its architecture JSON (Keras 2 layer groups or
 * the Keras 3 `layers/…/vars` layout of .weights.h5).
 */
export async function importKerasH5(files: LocalFile[]): Promise<ImportResult> {
  const h5 = files.find((f) => !f.path.toLowerCase().endsWith('.json'));
  const json = files.find((f) => f.path.toLowerCase().endsWith('.json'));
  if (!h5) throw new AppError('INVALID_MODEL', 'no HDF5 file among the uploaded files');
  const reader = await H5Reader.open(h5.localPath, h5.path);
  try {
    const modelConfig = reader.attr('', 'model_config');
    const version = kerasVersion(reader);
    const notes: string[] = [];
    if (typeof modelConfig === 'string') {
      if (json) notes.push(`${json.path} ignored: ${h5.path} holds its own model config`);
      const topology = translateKerasConfig(parseJson(modelConfig, 'model_config'), version);
      return await importKeras(topology, (layer) => legacyLayerArrays(reader, 'model_weights', layer), { version, notes });
    }
    if (!json) {
      throw new AppError('INVALID_MODEL', `${h5.path} holds weights only (no model_config): upload the architecture JSON (model.to_json()) with it`, {
        file: h5.path,
      });
    }
    const arch = parseJson(await fs.readFile(json.localPath, 'utf8'), json.path);
    const archVersion =
      typeof (arch as { keras_version?: unknown }).keras_version === 'string' ? (arch as { keras_version: string }).keras_version : null;
    const topology = translateKerasConfig(arch, version ?? archVersion);
    if (isKeras3WeightsFile(reader)) return await importKeras3Weights(reader, topology, { version: version ?? archVersion, notes });
    if (reader.attr('', 'layer_names') === null) throw new AppError('INVALID_MODEL', `${h5.path} is neither a Keras model nor a Keras weights file`);
    return await importKeras(topology, (layer) => legacyLayerArrays(reader, '', layer), { version: version ?? archVersion, notes });
  } finally {
    reader.close();
  }
}
