// Builds the TF.js model of a translated Keras topology and fills it with the file's weights. tfjs-layers builds
// the layers (zero initializers: nothing random is drawn), so weight names, order and shapes are exactly what
// tfjs expects; each layer's arrays from the file are checked against them, then tfjs itself serialises the
// weights. The stored topology is the translated Keras config (as tensorflowjs_converter stores model_config).
import { AppError } from '../../errors.ts';
import { serializeModel } from '../../ml/model-io.ts';
import { tf } from '../../ml/tf.ts';
import { withZeroInitializers } from '../../ml/zero-initializers.ts';
import type { ImportResult, SourceInfo } from '../models/types.ts';
import { layerClasses, type TranslatedTopology } from './config.ts';
import type { H5Array } from './h5-file.ts';

/** The layer classes tfjs-layers can deserialise (its serialization registry). */
function registeredClasses(): Set<string> {
  const map = tf.serialization.SerializationMap.getMap().classNameMap as Record<string, unknown>;
  return new Set(Object.keys(map));
}

/** Throws UNSUPPORTED_OPERATOR naming every layer whose class tfjs-layers does not have. */
export function assertSupportedLayers(topology: TranslatedTopology): void {
  const known = registeredClasses();
  const unsupported = layerClasses(topology).filter((l) => !known.has(l.className));
  if (unsupported.length > 0) {
    const list = unsupported.map((u) => `${u.className} (layer ${u.name})`).join(', ');
    throw new AppError('UNSUPPORTED_OPERATOR', `the model uses layers that cannot be converted: ${list}`, {
      operators: unsupported.map((u) => ({ op: u.className, node: u.name })),
    });
  }
}

/** The file's arrays for one layer of the built model (`layers`: the model's layers, for class-order naming). */
export type WeightSource = (layer: tf.layers.Layer, layers: readonly tf.layers.Layer[]) => H5Array[];

/** A built (zero-initialised) tfjs model of the topology; INVALID_MODEL when tfjs cannot build it. */
export async function buildTopology(topology: TranslatedTopology): Promise<tf.LayersModel> {
  assertSupportedLayers(topology);
  try {
    return await tf.models.modelFromJSON({ modelTopology: withZeroInitializers(topology) as tf.io.ModelJSON['modelTopology'] });
  } catch (err) {
    throw new AppError('INVALID_MODEL', `the Keras model cannot be built by TF.js Layers: ${(err as Error).message}`);
  }
}

const sameShape = (a: readonly (number | null)[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Sets every weighted layer's weights from `source`, checking count and shapes. */
export function loadKerasWeights(model: tf.LayersModel, source: WeightSource): void {
  for (const layer of model.layers) {
    const expected = layer.weights;
    if (expected.length === 0) continue;
    const arrays = source(layer, model.layers);
    if (arrays.length !== expected.length) {
      throw new AppError('WEIGHTS_MISMATCH', `layer ${layer.name} has ${expected.length} weights; the file holds ${arrays.length} for it`, {
        layer: layer.name,
        expected: expected.length,
        actual: arrays.length,
      });
    }
    arrays.forEach((a, i) => {
      if (!sameShape(expected[i].shape, a.shape)) {
        throw new AppError(
          'WEIGHTS_MISMATCH',
          `layer ${layer.name}: weight ${expected[i].originalName} has shape [${expected[i].shape}] but the file holds [${a.shape}]`,
          { layer: layer.name, weight: expected[i].originalName, expectedShape: expected[i].shape, actualShape: a.shape },
        );
      }
    });
    const tensors = arrays.map((a) => tf.tensor(a.data, a.shape, 'float32'));
    try {
      layer.setWeights(tensors);
    } finally {
      tf.dispose(tensors);
    }
  }
}

/** Whether the model's last layer gives probabilities (softmax) or logits. */
function outputKind(model: tf.LayersModel): SourceInfo['outputs'] {
  const last = model.layers[model.layers.length - 1];
  const activation = (last.getConfig() as { activation?: string }).activation;
  return activation === 'softmax' || last.getClassName() === 'Softmax' ? 'probabilities' : 'logits';
}

/** Image layout of the model's input: channels_first convolutions mean NCHW, 4-D inputs otherwise NHWC. */
function inputLayout(model: tf.LayersModel): SourceInfo['layout'] {
  if (model.inputs[0].shape.length !== 4) return null;
  const channelsFirst = model.layers.some((l) => (l.getConfig() as { data_format?: string; dataFormat?: string }).dataFormat === 'channelsFirst');
  return channelsFirst ? 'NCHW' : 'NHWC';
}

/** Builds, loads and serialises: the import result of a Keras file. */
export async function importKeras(
  topology: TranslatedTopology,
  source: WeightSource,
  info: { version: string | null; notes: string[] },
): Promise<ImportResult> {
  const model = await buildTopology(topology);
  try {
    loadKerasWeights(model, source);
    const { weightSpecs, weightData } = await serializeModel(model);
    return {
      artifacts: {
        modelTopology: topology,
        format: 'layers-model',
        generatedBy: `keras ${info.version ?? 'unknown'}`,
        convertedBy: 'modelpress',
        weightSpecs,
        weightData,
      },
      source: {
        version: info.version,
        layout: inputLayout(model),
        inputShape: model.inputs[0].shape,
        outputs: outputKind(model),
        notes: info.notes,
      },
    };
  } finally {
    model.dispose();
  }
}
