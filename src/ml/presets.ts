// Functional architecture presets (issue 13): resnet-20 (CIFAR-style basic blocks, widths 16/32/64), mobilenet-v2
// (inverted residuals with linear bottlenecks, widthMultiplier), text-cnn (Embedding + parallel Conv1D widths 3/4/5 +
// global max pooling) and lstm-classifier (Embedding with mask_zero + LSTM) for integer token sequences [T]. Image
// presets take [h, w, c], [h, w] or a flat square vector (reshaped) of any size ('same' padding everywhere, so even
// tiny inputs pass every stride); each ends in a dense softmax over numClasses.
import { AppError } from '../errors.ts';
import type { PresetName } from '../schemas/architecture.ts';
import { tf } from './tf.ts';

export interface PresetOptions {
  /** Channel width factor (1 = the paper's widths). */
  widthMultiplier?: number;
  /** Text presets: token ids 0 … vocabSize − 1. */
  vocabSize?: number;
  seed?: number;
}

type Builder = (inputShape: number[], numClasses: number, opts: PresetOptions) => tf.LayersModel;
type T = tf.SymbolicTensor;

/** Layer factory with per-layer seeds (reproducible with opts.seed) and unique names. */
function kit(opts: PresetOptions) {
  let n = 0;
  const init = () => (opts.seed === undefined ? undefined : tf.initializers.heNormal({ seed: opts.seed * 1000 + n++ }));
  const call = (layer: tf.layers.Layer, x: T | T[]) => layer.apply(x) as T;
  return {
    conv: (x: T, name: string, filters: number, kernelSize: number, strides = 1) =>
      call(tf.layers.conv2d({ name, filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init() }), x),
    dw: (x: T, name: string, strides = 1) =>
      call(tf.layers.depthwiseConv2d({ name, kernelSize: 3, strides, padding: 'same', useBias: false, depthwiseInitializer: init() }), x),
    bn: (x: T, name: string) => call(tf.layers.batchNormalization({ name, momentum: 0.9, epsilon: 1e-3 }), x),
    relu: (x: T, name: string, maxValue?: number) => call(tf.layers.reLU({ name, maxValue }), x),
    add: (xs: T[], name: string) => call(tf.layers.add({ name }), xs),
    head: (x: T, numClasses: number, dropout = 0) => {
      let y = x.shape.length > 2 ? call(tf.layers.globalAveragePooling2d({ name: 'gap' }), x) : x;
      if (dropout > 0) y = call(tf.layers.dropout({ name: 'dropout', rate: dropout }), y);
      return call(tf.layers.dense({ name: 'classifier', units: numClasses, activation: 'softmax', kernelInitializer: init() }), y);
    },
    embedding: (x: T, vocab: number, dim: number, maskZero: boolean) =>
      call(
        tf.layers.embedding({
          name: 'embedding',
          inputDim: vocab,
          outputDim: dim,
          maskZero,
          embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: opts.seed }),
        }),
        x,
      ),
    call,
    init,
  };
}

/** [h, w, c] for an image preset: [h, w] gets a channel axis, a flat square vector becomes [s, s, 1]. */
function imageInput(inputShape: number[], preset: string): { input: T; x: T } {
  const input = tf.input({ shape: inputShape, name: 'input' });
  if (inputShape.length === 3) return { input, x: input };
  const side = Math.round(Math.sqrt(inputShape[0]));
  const target = inputShape.length === 2 ? [...inputShape, 1] : inputShape.length === 1 && side * side === inputShape[0] ? [side, side, 1] : null;
  if (!target)
    throw new AppError('INCOMPATIBLE_INPUTS', `${preset} needs image-shaped input ([h, w, c], [h, w] or a square vector), got [${inputShape}]`);
  return { input, x: tf.layers.reshape({ name: 'reshape_auto', targetShape: target }).apply(input) as T };
}

/** Input [T] of integer token ids for a text preset. */
function tokenInput(inputShape: number[], preset: string, opts: PresetOptions): { input: T; vocab: number } {
  if (inputShape.length !== 1) throw new AppError('INCOMPATIBLE_INPUTS', `${preset} needs token sequences of shape [T], got [${inputShape}]`);
  const vocab = opts.vocabSize;
  if (!vocab || vocab < 2)
    throw new AppError('INVALID_JOB_PARAMS', `${preset} needs a vocabulary size: pass { preset: "${preset}", vocabSize }`, {
      field: 'architecture.vocabSize',
    });
  return { input: tf.input({ shape: inputShape, name: 'tokens' }), vocab };
}

const width = (n: number, opts: PresetOptions) => Math.max(1, Math.round(n * (opts.widthMultiplier ?? 1)));

/** ResNet-20 for CIFAR (He et al. 2016, §4.2): 3 stages × 3 basic blocks, 16/32/64 filters, 1×1 projection shortcuts. */
const resnet20: Builder = (inputShape, numClasses, opts) => {
  const k = kit(opts);
  const { input, x: x0 } = imageInput(inputShape, 'resnet-20');
  let x = k.relu(k.bn(k.conv(x0, 'stem_conv', width(16, opts), 3), 'stem_bn'), 'stem_relu');
  [16, 32, 64].forEach((base, stage) => {
    const filters = width(base, opts);
    for (let b = 0; b < 3; b++) {
      const p = `s${stage + 1}b${b + 1}`;
      const strides = stage > 0 && b === 0 ? 2 : 1;
      let y = k.relu(k.bn(k.conv(x, `${p}_conv1`, filters, 3, strides), `${p}_bn1`), `${p}_relu1`);
      y = k.bn(k.conv(y, `${p}_conv2`, filters, 3), `${p}_bn2`);
      const inChannels = x.shape[3] as number;
      const shortcut = strides !== 1 || inChannels !== filters ? k.bn(k.conv(x, `${p}_proj`, filters, 1, strides), `${p}_proj_bn`) : x;
      x = k.relu(k.add([y, shortcut], `${p}_add`), `${p}_relu2`);
    }
  });
  return tf.model({ inputs: input, outputs: k.head(x, numClasses), name: 'resnet20' });
};

/** Channels rounded to a multiple of 8 (never below 90% of the target), as MobileNetV2's _make_divisible. */
function divisible(v: number, divisor = 8): number {
  const r = Math.max(divisor, Math.floor(v + divisor / 2) - (Math.floor(v + divisor / 2) % divisor));
  return r < 0.9 * v ? r + divisor : r;
}

/** MobileNetV2 (Sandler et al. 2018): inverted residual blocks (expand 1×1, depthwise 3×3, linear 1×1), ReLU6. */
const mobilenetV2: Builder = (inputShape, numClasses, opts) => {
  const k = kit(opts);
  const alpha = opts.widthMultiplier ?? 1;
  const { input, x: x0 } = imageInput(inputShape, 'mobilenet-v2');
  let x = k.relu(k.bn(k.conv(x0, 'stem_conv', divisible(32 * alpha), 3, 2), 'stem_bn'), 'stem_relu6', 6);
  // (expansion t, channels c, repeats n, first stride s)
  const config: [number, number, number, number][] = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ];
  let block = 0;
  for (const [t, c, n, s] of config) {
    const out = divisible(c * alpha);
    for (let i = 0; i < n; i++) {
      const p = `block${block++}`;
      const strides = i === 0 ? s : 1;
      const inChannels = x.shape[3] as number;
      let y = x;
      if (t !== 1) y = k.relu(k.bn(k.conv(y, `${p}_expand`, inChannels * t, 1), `${p}_expand_bn`), `${p}_expand_relu6`, 6);
      y = k.relu(k.bn(k.dw(y, `${p}_dw`, strides), `${p}_dw_bn`), `${p}_dw_relu6`, 6);
      y = k.bn(k.conv(y, `${p}_project`, out, 1), `${p}_project_bn`);
      x = strides === 1 && inChannels === out ? k.add([x, y], `${p}_add`) : y;
    }
  }
  const last = alpha > 1 ? divisible(1280 * alpha) : 1280;
  x = k.relu(k.bn(k.conv(x, 'head_conv', last, 1), 'head_bn'), 'head_relu6', 6);
  return tf.model({ inputs: input, outputs: k.head(x, numClasses, 0.2), name: 'mobilenetv2' });
};

/** Kim (2014)-style text CNN: Embedding, Conv1D of widths 3/4/5 in parallel, global max pooling, concat, dropout. */
const textCnn: Builder = (inputShape, numClasses, opts) => {
  const k = kit(opts);
  const { input, vocab } = tokenInput(inputShape, 'text-cnn', opts);
  const emb = k.embedding(input, vocab, width(64, opts), false);
  const branches = [3, 4, 5].map((size) => {
    const conv = k.call(
      tf.layers.conv1d({
        name: `conv${size}`,
        filters: width(64, opts),
        kernelSize: size,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: k.init(),
      }),
      emb,
    );
    return k.call(tf.layers.globalMaxPooling1d({ name: `max${size}` }), conv);
  });
  const merged = k.call(tf.layers.concatenate({ name: 'concat' }), branches);
  return tf.model({ inputs: input, outputs: k.head(merged, numClasses, 0.5), name: 'textcnn' });
};

/** Embedding (mask_zero: id 0 pads) → LSTM → dense softmax. */
const lstmClassifier: Builder = (inputShape, numClasses, opts) => {
  const k = kit(opts);
  const { input, vocab } = tokenInput(inputShape, 'lstm-classifier', opts);
  const emb = k.embedding(input, vocab, width(64, opts), true);
  const seed = opts.seed === undefined ? {} : { kernelInitializer: k.init(), recurrentInitializer: tf.initializers.orthogonal({ seed: opts.seed }) };
  const h = k.call(tf.layers.lstm({ name: 'lstm', units: width(64, opts), ...seed }), emb);
  return tf.model({ inputs: input, outputs: k.head(h, numClasses, 0.2), name: 'lstm_classifier' });
};

/** The presets built as functional graphs (the LeNets are layer lists in architectures.ts). */
export const GRAPH_PRESETS: Partial<Record<PresetName, Builder>> = {
  'resnet-20': resnet20,
  'mobilenet-v2': mobilenetV2,
  'text-cnn': textCnn,
  'lstm-classifier': lstmClassifier,
};

/**
 * Vocabulary size of a text preset over data whose largest token id is `maxId` (over every split a job feeds it, not
 * a first batch or the first `limit` rows: a larger id met later would index past the embedding). A `given`
 * vocabSize must cover maxId; without one, maxId + 1 (at least 2). Non-integer or negative ids are refused.
 */
export function tokenVocabulary(maxId: number, given?: number, field = 'params.architecture.vocabSize'): number {
  if (!Number.isInteger(maxId) || maxId < 0)
    throw new AppError('INCOMPATIBLE_INPUTS', `a text preset needs integer token ids >= 0 as features; the largest feature is ${maxId}`);
  if (given !== undefined && maxId >= given)
    throw new AppError(
      'INVALID_JOB_PARAMS',
      `${field}: ${given} does not cover the data's token ids (largest ${maxId}): needs at least ${maxId + 1}`,
      {
        field,
      },
    );
  return given ?? Math.max(2, maxId + 1);
}
