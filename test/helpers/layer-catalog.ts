// One tiny model per layer class of issue 13's list (plus the model heads they need), for kernel-coverage and
// backend-equivalence tests. Each entry builds a fresh functional model and deterministic inputs.
import { spatialDropout2d, subtract } from '../../src/ml/layers/index.ts';
import { tf } from '../../src/ml/tf.ts';
import { randomValues } from './kernel-check.ts';

export interface LayerCase {
  /** The layer class (Keras name) the case exercises. */
  className: string;
  /** A variant label when one class has several cases. */
  variant?: string;
  build(): tf.LayersModel;
  /** Inputs for one batch (float or int32), same order as the model's inputs. */
  inputs(): tf.Tensor[];
  /** Uses randomness in training mode (compare backends in inference mode only). */
  random?: boolean;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const floats = (shape: number[], seed: number) => () => [tf.tensor(randomValues(size(shape), seed), shape)];
const IMG = [2, 6, 6, 3];
const SEQ = [2, 5, 4];
const TOKENS = [2, 6];

function model(inputs: tf.SymbolicTensor | tf.SymbolicTensor[], outputs: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.LayersModel {
  return tf.model({ inputs, outputs });
}

/** input [6,6,3] → layer → flatten → dense(3). */
function image(layer: (x: tf.SymbolicTensor) => tf.SymbolicTensor): () => tf.LayersModel {
  return () => {
    const input = tf.input({ shape: IMG.slice(1) });
    const y = layer(input);
    const flat = y.shape.length > 2 ? (tf.layers.flatten().apply(y) as tf.SymbolicTensor) : y;
    return model(input, tf.layers.dense({ units: 3 }).apply(flat) as tf.SymbolicTensor);
  };
}

/** input [5,4] → layer → flatten → dense(3). */
function sequence(layer: (x: tf.SymbolicTensor) => tf.SymbolicTensor): () => tf.LayersModel {
  return () => {
    const input = tf.input({ shape: SEQ.slice(1) });
    const y = layer(input);
    const flat = y.shape.length > 2 ? (tf.layers.flatten().apply(y) as tf.SymbolicTensor) : y;
    return model(input, tf.layers.dense({ units: 3 }).apply(flat) as tf.SymbolicTensor);
  };
}

/** input [8] → layer → dense(3). */
function vector(layer: (x: tf.SymbolicTensor) => tf.SymbolicTensor): () => tf.LayersModel {
  return () => {
    const input = tf.input({ shape: [8] });
    const y = layer(input);
    const flat = y.shape.length > 2 ? (tf.layers.flatten().apply(y) as tf.SymbolicTensor) : y;
    return model(input, tf.layers.dense({ units: 3 }).apply(flat) as tf.SymbolicTensor);
  };
}

/** Two branches of the image input (convs with 4 filters) merged by `merge`. */
function merged(merge: (xs: tf.SymbolicTensor[]) => tf.SymbolicTensor): () => tf.LayersModel {
  return image((x) => {
    const a = tf.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(x) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
    return merge([a, b]);
  });
}

const apply = (layer: tf.layers.Layer) => (x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

/** Embedding(20, 4, maskZero) on int tokens (some zeros) → `rest` → dense(3). */
function tokens(rest: (x: tf.SymbolicTensor) => tf.SymbolicTensor): () => tf.LayersModel {
  return () => {
    const input = tf.input({ shape: TOKENS.slice(1), dtype: 'int32' });
    const e = tf.layers.embedding({ inputDim: 20, outputDim: 4, maskZero: true }).apply(input) as tf.SymbolicTensor;
    const y = rest(e);
    const flat = y.shape.length > 2 ? (tf.layers.flatten().apply(y) as tf.SymbolicTensor) : y;
    return model(input, tf.layers.dense({ units: 3 }).apply(flat) as tf.SymbolicTensor);
  };
}
const tokenInputs = () => [
  tf.tensor2d(
    [
      [3, 7, 1, 19, 0, 0],
      [5, 0, 2, 2, 11, 4],
    ],
    TOKENS as [number, number],
    'int32',
  ),
];

export const LAYER_CASES: LayerCase[] = [
  { className: 'Dense', build: vector(apply(tf.layers.dense({ units: 5, activation: 'tanh' }))), inputs: floats([2, 8], 1) },
  {
    className: 'Conv1D',
    build: sequence(apply(tf.layers.conv1d({ filters: 3, kernelSize: 2, strides: 2, padding: 'same' }))),
    inputs: floats(SEQ, 2),
  },
  {
    className: 'Conv2D',
    build: image(apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, activation: 'relu' }))),
    inputs: floats(IMG, 3),
  },
  { className: 'DepthwiseConv2D', build: image(apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }))), inputs: floats(IMG, 4) },
  {
    className: 'DepthwiseConv2D',
    variant: 'stride 2, multiplier 2',
    build: image(apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, depthMultiplier: 2, padding: 'valid' }))),
    inputs: floats(IMG, 5),
  },
  {
    className: 'SeparableConv2D',
    build: image(apply(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, padding: 'same' }))),
    inputs: floats(IMG, 6),
  },
  {
    className: 'Conv2DTranspose',
    build: image(apply(tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' }))),
    inputs: floats(IMG, 7),
  },
  { className: 'BatchNormalization', build: image(apply(tf.layers.batchNormalization())), inputs: floats(IMG, 8) },
  { className: 'LayerNormalization', build: sequence(apply(tf.layers.layerNormalization())), inputs: floats(SEQ, 9) },
  { className: 'Activation', build: vector(apply(tf.layers.activation({ activation: 'swish' }))), inputs: floats([2, 8], 10) },
  {
    className: 'Activation',
    variant: 'sigmoid/softplus/selu',
    build: vector((x) =>
      apply(tf.layers.activation({ activation: 'selu' }))(
        apply(tf.layers.activation({ activation: 'softplus' }))(apply(tf.layers.activation({ activation: 'sigmoid' }))(x)),
      ),
    ),
    inputs: floats([2, 8], 11),
  },
  {
    className: 'ReLU',
    variant: 'maxValue 6',
    build: vector((x) =>
      apply(tf.layers.reLU({ maxValue: 6 }))(
        tf.layers.dense({ units: 8, kernelInitializer: tf.initializers.constant({ value: 3 }) }).apply(x) as tf.SymbolicTensor,
      ),
    ),
    inputs: floats([2, 8], 12),
  },
  { className: 'LeakyReLU', build: vector(apply(tf.layers.leakyReLU({ alpha: 0.2 }))), inputs: floats([2, 8], 13) },
  { className: 'ELU', build: vector(apply(tf.layers.elu())), inputs: floats([2, 8], 14) },
  { className: 'Softmax', build: vector(apply(tf.layers.softmax())), inputs: floats([2, 8], 15) },
  { className: 'Dropout', random: true, build: vector(apply(tf.layers.dropout({ rate: 0.5 }))), inputs: floats([2, 8], 16) },
  { className: 'SpatialDropout1D', random: true, build: sequence(apply(tf.layers.spatialDropout1d({ rate: 0.5 }))), inputs: floats(SEQ, 17) },
  { className: 'SpatialDropout2D', random: true, build: image(apply(spatialDropout2d({ rate: 0.5 }))), inputs: floats(IMG, 43) },
  { className: 'GaussianNoise', random: true, build: vector(apply(tf.layers.gaussianNoise({ stddev: 0.1 }))), inputs: floats([2, 8], 18) },
  { className: 'Flatten', build: image(apply(tf.layers.flatten())), inputs: floats(IMG, 19) },
  { className: 'Reshape', build: vector(apply(tf.layers.reshape({ targetShape: [2, 4] }))), inputs: floats([2, 8], 20) },
  { className: 'Permute', build: sequence(apply(tf.layers.permute({ dims: [2, 1] }))), inputs: floats(SEQ, 21) },
  { className: 'RepeatVector', build: vector(apply(tf.layers.repeatVector({ n: 3 }))), inputs: floats([2, 8], 22) },
  {
    className: 'ZeroPadding2D',
    build: image(
      apply(
        tf.layers.zeroPadding2d({
          padding: [
            [1, 0],
            [0, 2],
          ],
        }),
      ),
    ),
    inputs: floats(IMG, 23),
  },
  {
    className: 'Cropping2D',
    build: image(
      apply(
        tf.layers.cropping2D({
          cropping: [
            [1, 0],
            [2, 1],
          ],
        }),
      ),
    ),
    inputs: floats(IMG, 24),
  },
  { className: 'UpSampling2D', build: image(apply(tf.layers.upSampling2d({ size: [2, 2] }))), inputs: floats(IMG, 25) },
  { className: 'MaxPooling1D', build: sequence(apply(tf.layers.maxPooling1d({ poolSize: 2 }))), inputs: floats(SEQ, 26) },
  { className: 'AveragePooling1D', build: sequence(apply(tf.layers.averagePooling1d({ poolSize: 2 }))), inputs: floats(SEQ, 27) },
  { className: 'MaxPooling2D', build: image(apply(tf.layers.maxPooling2d({ poolSize: 2 }))), inputs: floats(IMG, 28) },
  {
    className: 'AveragePooling2D',
    build: image(apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }))),
    inputs: floats(IMG, 29),
  },
  { className: 'GlobalAveragePooling1D', build: sequence(apply(tf.layers.globalAveragePooling1d())), inputs: floats(SEQ, 30) },
  { className: 'GlobalMaxPooling1D', build: sequence(apply(tf.layers.globalMaxPooling1d())), inputs: floats(SEQ, 31) },
  { className: 'GlobalAveragePooling2D', build: image(apply(tf.layers.globalAveragePooling2d({}))), inputs: floats(IMG, 32) },
  { className: 'GlobalMaxPooling2D', build: image(apply(tf.layers.globalMaxPooling2d({}))), inputs: floats(IMG, 33) },
  { className: 'Add', build: merged(apply(tf.layers.add())), inputs: floats(IMG, 34) },
  { className: 'Subtract', build: merged(apply(subtract())), inputs: floats(IMG, 35) },
  { className: 'Multiply', build: merged(apply(tf.layers.multiply())), inputs: floats(IMG, 36) },
  { className: 'Average', build: merged(apply(tf.layers.average())), inputs: floats(IMG, 37) },
  { className: 'Maximum', build: merged(apply(tf.layers.maximum())), inputs: floats(IMG, 38) },
  { className: 'Minimum', build: merged(apply(tf.layers.minimum())), inputs: floats(IMG, 39) },
  { className: 'Concatenate', build: merged(apply(tf.layers.concatenate())), inputs: floats(IMG, 40) },
  {
    className: 'Dot',
    build: sequence((x) => {
      const a = tf.layers.dense({ units: 4 }).apply(x) as tf.SymbolicTensor;
      return tf.layers.dot({ axes: 2 }).apply([a, x]) as tf.SymbolicTensor;
    }),
    inputs: floats(SEQ, 41),
  },
  { className: 'Embedding', variant: 'maskZero', build: tokens((x) => x), inputs: tokenInputs },
  { className: 'SimpleRNN', build: tokens(apply(tf.layers.simpleRNN({ units: 3 }))), inputs: tokenInputs },
  { className: 'LSTM', build: tokens(apply(tf.layers.lstm({ units: 3, returnSequences: true }))), inputs: tokenInputs },
  { className: 'GRU', build: tokens(apply(tf.layers.gru({ units: 3 }))), inputs: tokenInputs },
  {
    className: 'Bidirectional',
    build: tokens(apply(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3 }) }))),
    inputs: tokenInputs,
  },
  {
    className: 'TimeDistributed',
    build: sequence(apply(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2 }) }))),
    inputs: floats(SEQ, 42),
  },
];
