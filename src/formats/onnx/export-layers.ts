// One ONNX writer per tfjs layer class the exporter supports. Each takes the layer's config, its weights and its
// input values and returns its output value; convolutions and pools run NCHW (weights transposed from tfjs's
// [kh, kw, in, out] to ONNX's [out, in, kh, kw]), everything that depends on axis order works in tfjs order.
import type { ExportWeight, OnnxWriter, Val } from './export-graph.ts';

export interface LayerCall {
  w: OnnxWriter;
  name: string;
  config: Record<string, unknown>;
  inputs: Val[];
  /** Weights by their short name (kernel, bias, gamma, depthwise_kernel, ...). */
  weights: Map<string, ExportWeight>;
  /** tfjs output shape of this call. */
  outShape: (number | null)[];
}

/** Thrown for a config the exporter cannot express (reported with the layer, like an unsupported class). */
export class NotExportable extends Error {}

export type LayerWriter = (c: LayerCall) => Val;

const pair = (v: unknown, fallback: number): [number, number] =>
  Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : typeof v === 'number' ? [v, v] : [fallback, fallback];

const num = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback);

function weight(c: LayerCall, key: string): ExportWeight {
  const w = c.weights.get(key);
  if (!w) throw new NotExportable(`weight ${key} missing`);
  return w;
}

function channelsLast(c: LayerCall) {
  const f = c.config.dataFormat;
  if (f !== undefined && f !== 'channelsLast') throw new NotExportable(`dataFormat ${JSON.stringify(f)}`);
}

/** Explicit ONNX pads [top, left, bottom, right] for tfjs 'same'/'valid' padding (TF puts the odd pixel last). */
function pads(inHW: (number | null)[], k: [number, number], s: [number, number], d: [number, number], padding: unknown): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw new NotExportable(`padding ${String(padding)}`);
  const total = [0, 1].map((i) => {
    const n = inHW[i];
    if (n === null) throw new NotExportable('same padding needs a static height and width');
    return Math.max((Math.ceil(n / s[i]) - 1) * s[i] + (k[i] - 1) * d[i] + 1 - n, 0);
  });
  const begin = total.map((t) => Math.floor(t / 2));
  return [begin[0], begin[1], total[0] - begin[0], total[1] - begin[1]];
}

/** tfjs activation (by its serialized name) applied to `v`. */
export function activation(w: OnnxWriter, v: Val, act: unknown, base: string): Val {
  const name = typeof act === 'string' ? act : 'linear';
  const out = (n: string): Val => ({ name: n, shape: v.shape, nchw: v.nchw });
  const x = v.name;
  switch (name) {
    case 'linear':
      return v;
    case 'relu':
      return out(w.node('Relu', [x], {}, base));
    case 'relu6':
      return out(w.node('Clip', [x, w.floatConst(`${base}/min`, [], [0]), w.floatConst(`${base}/max`, [], [6])], {}, base));
    case 'elu':
      return out(w.node('Elu', [x], { alpha: 1 }, base));
    case 'selu':
      return out(w.node('Selu', [x], { alpha: 1.6732632423543772, gamma: 1.0507009873554805 }, base));
    case 'sigmoid':
      return out(w.node('Sigmoid', [x], {}, base));
    case 'hardSigmoid':
      return out(w.node('HardSigmoid', [x], { alpha: 0.2, beta: 0.5 }, base));
    case 'tanh':
      return out(w.node('Tanh', [x], {}, base));
    case 'softplus':
      return out(w.node('Softplus', [x], {}, base));
    case 'softsign':
      return out(w.node('Softsign', [x], {}, base));
    case 'softmax':
      return out(w.node('Softmax', [x], { axis: w.physicalAxis(v, -1) }, base));
    case 'logSoftmax':
      return out(w.node('LogSoftmax', [x], { axis: w.physicalAxis(v, -1) }, base));
    case 'swish':
      return out(w.node('Mul', [x, w.node('Sigmoid', [x], {}, `${base}/sigmoid`)], {}, base));
    case 'mish':
      return out(w.node('Mul', [x, w.node('Tanh', [w.node('Softplus', [x], {}, `${base}/softplus`)], {}, `${base}/tanh`)], {}, base));
    case 'gelu': {
      // 0.5·x·(1 + erf(x/√2)), as tfjs computes it.
      const erf = w.node('Erf', [w.node('Div', [x, w.floatConst(`${base}/sqrt2`, [], [Math.SQRT2])])], {}, `${base}/erf`);
      const cdf = w.node('Mul', [w.node('Add', [erf, w.floatConst(`${base}/one`, [], [1])]), w.floatConst(`${base}/half`, [], [0.5])]);
      return out(w.node('Mul', [x, cdf], {}, base));
    }
    default:
      throw new NotExportable(`activation ${name}`);
  }
}

/** Conv + bias + activation; `kernel` already in ONNX order. */
function conv(c: LayerCall, x: Val, kernel: string, bias: string | null, attrs: Record<string, number | number[]>, act: unknown): Val {
  const y = c.w.node('Conv', bias ? [x.name, kernel, bias] : [x.name, kernel], attrs, c.name);
  return activation(c.w, { name: y, shape: c.outShape, nchw: true }, act, `${c.name}/act`);
}

const convAttrs = (c: LayerCall, x: Val, kh: number, kw: number) => {
  const k: [number, number] = [kh, kw];
  const s = pair(c.config.strides, 1);
  const d = pair(c.config.dilationRate, 1);
  return { kernel_shape: k, strides: s, dilations: d, pads: pads(x.shape.slice(1, 3), k, s, d, c.config.padding) };
};

const bias = (c: LayerCall) => (c.config.useBias === false || !c.weights.has('bias') ? null : c.w.weight(weight(c, 'bias')));

function dense(c: LayerCall): Val {
  const kernel = c.w.weight(weight(c, 'kernel'));
  const b = bias(c);
  const x = c.w.logical(c.inputs[0]);
  let y: string;
  if (x.shape.length === 2) y = c.w.node('Gemm', b ? [x.name, kernel, b] : [x.name, kernel], {}, c.name);
  else {
    const m = c.w.node('MatMul', [x.name, kernel], {}, b ? `${c.name}/matmul` : c.name);
    y = b ? c.w.node('Add', [m, b], {}, c.name) : m;
  }
  return activation(c.w, { name: y, shape: c.outShape, nchw: false }, c.config.activation, `${c.name}/act`);
}

function conv2d(c: LayerCall): Val {
  channelsLast(c);
  const x = c.w.nchw(c.inputs[0]);
  const k = weight(c, 'kernel');
  return conv(c, x, c.w.weight(k, [3, 2, 0, 1]), bias(c), { ...convAttrs(c, x, k.shape[0], k.shape[1]), group: 1 }, c.config.activation);
}

/** tfjs [kh, kw, c, m] depthwise kernel → ONNX [c·m, 1, kh, kw] (output channel c·m + j, as tfjs orders them). */
const depthwiseKernel = (c: LayerCall, k: ExportWeight) => c.w.weight(k, [2, 3, 0, 1], [k.shape[2] * k.shape[3], 1, k.shape[0], k.shape[1]]);

function depthwiseConv2d(c: LayerCall): Val {
  channelsLast(c);
  const x = c.w.nchw(c.inputs[0]);
  const k = weight(c, 'depthwise_kernel');
  const attrs = { ...convAttrs(c, x, k.shape[0], k.shape[1]), group: k.shape[2] };
  return conv(c, x, depthwiseKernel(c, k), bias(c), attrs, c.config.activation);
}

function separableConv2d(c: LayerCall): Val {
  channelsLast(c);
  const x = c.w.nchw(c.inputs[0]);
  const dk = weight(c, 'depthwise_kernel');
  const pk = weight(c, 'pointwise_kernel');
  const attrs = { ...convAttrs(c, x, dk.shape[0], dk.shape[1]), group: dk.shape[2] };
  const mid = c.w.node('Conv', [x.name, depthwiseKernel(c, dk)], attrs, `${c.name}/depthwise`);
  const y = c.w.node('Conv', [mid, c.w.weight(pk, [3, 2, 0, 1])].concat(bias(c) ?? []), { kernel_shape: [1, 1] }, c.name);
  return activation(c.w, { name: y, shape: c.outShape, nchw: true }, c.config.activation, `${c.name}/act`);
}

function conv2dTranspose(c: LayerCall): Val {
  channelsLast(c);
  const x = c.w.nchw(c.inputs[0]);
  const k = weight(c, 'kernel'); // [kh, kw, out, in]
  const ks: [number, number] = [k.shape[0], k.shape[1]];
  const s = pair(c.config.strides, 1);
  const p = c.config.padding;
  if (p !== 'same' && p !== 'valid') throw new NotExportable(`padding ${String(p)}`);
  // TF's transposed conv: output in·s ('same') or in·s + max(k − s, 0) ('valid').
  const total = ks.map((kk, i) => (p === 'same' ? Math.max(kk - s[i], 0) : 0));
  const begin = total.map((t) => Math.floor(t / 2));
  const outputPadding = ks.map((kk, i) => Math.max(s[i] - kk, 0));
  const attrs = {
    kernel_shape: ks,
    strides: s,
    pads: [begin[0], begin[1], total[0] - begin[0], total[1] - begin[1]],
    output_padding: outputPadding,
  };
  const b = bias(c);
  const kernel = c.w.weight(k, [3, 2, 0, 1]);
  const y = c.w.node('ConvTranspose', b ? [x.name, kernel, b] : [x.name, kernel], attrs, c.name);
  return activation(c.w, { name: y, shape: c.outShape, nchw: true }, c.config.activation, `${c.name}/act`);
}

function batchNorm(c: LayerCall): Val {
  const x0 = c.inputs[0];
  const rank = x0.shape.length;
  const axis = num(c.config.axis, -1);
  if ((axis < 0 ? rank + axis : axis) !== rank - 1) throw new NotExportable(`axis ${axis}`);
  const eps = num(c.config.epsilon, 1e-3);
  const mean = weight(c, 'moving_mean');
  const variance = weight(c, 'moving_variance');
  const channels = mean.shape[0];
  const gamma = c.weights.get('gamma');
  const beta = c.weights.get('beta');
  if (rank === 4 || rank === 2) {
    const x = rank === 4 ? c.w.nchw(x0) : x0;
    const ones = { name: `${c.name}/gamma`, shape: [channels], values: new Float32Array(channels).fill(1) };
    const zeros = { name: `${c.name}/beta`, shape: [channels], values: new Float32Array(channels) };
    const inputs = [x.name, c.w.weight(gamma ?? ones), c.w.weight(beta ?? zeros), c.w.weight(mean), c.w.weight(variance)];
    return { name: c.w.node('BatchNormalization', inputs, { epsilon: eps }, c.name), shape: c.outShape, nchw: x.nchw };
  }
  // Other ranks: the folded affine map on the last axis (broadcasts in tfjs order).
  const scale = Float32Array.from(variance.values, (v, i) => (gamma ? gamma.values[i] : 1) / Math.sqrt(v + eps));
  const shift = Float32Array.from(scale, (s, i) => (beta ? beta.values[i] : 0) - mean.values[i] * s);
  const x = c.w.logical(x0);
  const y = c.w.node('Mul', [x.name, c.w.floatConst(`${c.name}/scale`, [channels], scale)]);
  return { name: c.w.node('Add', [y, c.w.floatConst(`${c.name}/shift`, [channels], shift)], {}, c.name), shape: c.outShape, nchw: false };
}

function pool(op: 'MaxPool' | 'AveragePool') {
  return (c: LayerCall): Val => {
    channelsLast(c);
    const x = c.w.nchw(c.inputs[0]);
    const k = pair(c.config.poolSize, 2);
    const s = pair(c.config.strides ?? c.config.poolSize, 2);
    const attrs = { kernel_shape: k, strides: s, pads: pads(x.shape.slice(1, 3), k, s, [1, 1], c.config.padding) };
    return { name: c.w.node(op, [x.name], attrs, c.name), shape: c.outShape, nchw: true };
  };
}

function globalPool(op: 'GlobalAveragePool' | 'GlobalMaxPool') {
  return (c: LayerCall): Val => {
    channelsLast(c);
    if (c.config.keepDims === true) throw new NotExportable('keepDims');
    const x = c.w.nchw(c.inputs[0]);
    const y = c.w.node(op, [x.name], {}, `${c.name}/pool`);
    return { name: c.w.node('Flatten', [y], { axis: 1 }, c.name), shape: c.outShape, nchw: false };
  };
}

function globalPool1d(op: 'ReduceMean' | 'ReduceMax') {
  return (c: LayerCall): Val => ({ name: c.w.node(op, [c.inputs[0].name], { axes: [1], keepdims: 0 }, c.name), shape: c.outShape, nchw: false });
}

function flatten(c: LayerCall): Val {
  const x = c.w.logical(c.inputs[0]);
  if (x.shape.length === 2) return x;
  return { name: c.w.node('Flatten', [x.name], { axis: 1 }, c.name), shape: c.outShape, nchw: false };
}

function reshape(c: LayerCall): Val {
  const x = c.w.logical(c.inputs[0]);
  const target = (c.config.targetShape as number[]).map(Number);
  // 0 copies the (free) batch dimension.
  const shape = c.w.int64Const(`${c.name}/shape`, [0, ...target]);
  return { name: c.w.node('Reshape', [x.name, shape], {}, c.name), shape: c.outShape, nchw: false };
}

function permute(c: LayerCall): Val {
  const x = c.w.logical(c.inputs[0]);
  const dims = (c.config.dims as number[]).map(Number);
  return { name: c.w.node('Transpose', [x.name], { perm: [0, ...dims] }, c.name), shape: c.outShape, nchw: false };
}

const passThrough = (c: LayerCall): Val => c.inputs[0];

/** Element-wise merges: every 4-D input in one order (NCHW when any already is). */
function sameOrder(c: LayerCall): Val[] {
  const anyNchw = c.inputs.some((v) => v.nchw);
  return c.inputs.map((v) => (anyNchw ? c.w.nchw(v) : c.w.logical(v)));
}

function merge(op: 'Add' | 'Mul' | 'Sub' | 'Mean' | 'Max' | 'Min') {
  return (c: LayerCall): Val => {
    const xs = sameOrder(c);
    let y: string;
    // Binary ops chained (Add rather than Sum: what PyTorch writes and every importer reads).
    if (op === 'Add' || op === 'Mul' || op === 'Sub') {
      y = xs[0].name;
      for (let i = 1; i < xs.length; i++) y = c.w.node(op, [y, xs[i].name], {}, i === xs.length - 1 ? c.name : `${c.name}/${i}`);
    } else
      y = c.w.node(
        op,
        xs.map((x) => x.name),
        {},
        c.name,
      );
    return { name: y, shape: c.outShape, nchw: xs[0].nchw };
  };
}

function concatenate(c: LayerCall): Val {
  const xs = sameOrder(c);
  const axis = c.w.physicalAxis(xs[0], num(c.config.axis, -1));
  return {
    name: c.w.node(
      'Concat',
      xs.map((x) => x.name),
      { axis },
      c.name,
    ),
    shape: c.outShape,
    nchw: xs[0].nchw,
  };
}

function zeroPadding2d(c: LayerCall): Val {
  channelsLast(c);
  const x = c.w.nchw(c.inputs[0]);
  const p = c.config.padding as number[][];
  const [[t, b], [l, r]] = p.map((v) => pair(v, 0));
  const y = c.w.node('Pad', [x.name, c.w.int64Const(`${c.name}/pads`, [0, 0, t, l, 0, 0, b, r])], { mode: 'constant' }, c.name);
  return { name: y, shape: c.outShape, nchw: true };
}

function cropping2d(c: LayerCall): Val {
  channelsLast(c);
  const x = c.w.nchw(c.inputs[0]);
  const [[t, b], [l, r]] = (c.config.cropping as number[][]).map((v) => pair(v, 0));
  const [h, wd] = [x.shape[1], x.shape[2]];
  if (h === null || wd === null) throw new NotExportable('cropping needs a static height and width');
  const inputs = [
    x.name,
    c.w.int64Const(`${c.name}/starts`, [t, l]),
    c.w.int64Const(`${c.name}/ends`, [h - b, wd - r]),
    c.w.int64Const(`${c.name}/axes`, [2, 3]),
  ];
  return { name: c.w.node('Slice', inputs, {}, c.name), shape: c.outShape, nchw: true };
}

function upSampling2d(c: LayerCall): Val {
  channelsLast(c);
  if (c.config.interpolation !== undefined && c.config.interpolation !== 'nearest')
    throw new NotExportable(`interpolation ${JSON.stringify(c.config.interpolation)}`);
  const x = c.w.nchw(c.inputs[0]);
  const [sh, sw] = pair(c.config.size, 2);
  const scales = c.w.floatConst(`${c.name}/scales`, [4], [1, 1, sh, sw]);
  const attrs = { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
  return { name: c.w.node('Resize', [x.name, '', scales], attrs, c.name), shape: c.outShape, nchw: true };
}

function rescaling(c: LayerCall): Val {
  const x = c.inputs[0];
  const scaled = c.w.node('Mul', [x.name, c.w.floatConst(`${c.name}/scale`, [], [num(c.config.scale, 1)])]);
  return {
    name: c.w.node('Add', [scaled, c.w.floatConst(`${c.name}/offset`, [], [num(c.config.offset, 0)])], {}, c.name),
    shape: c.outShape,
    nchw: x.nchw,
  };
}

function softmaxLayer(c: LayerCall): Val {
  const x = c.inputs[0];
  const axis = num(c.config.axis, -1);
  return { name: c.w.node('Softmax', [x.name], { axis: c.w.physicalAxis(x, axis) }, c.name), shape: c.outShape, nchw: x.nchw };
}

function reluLayer(c: LayerCall): Val {
  const x = c.inputs[0];
  const max = c.config.maxValue;
  if (typeof max !== 'number') return activation(c.w, x, 'relu', c.name);
  const y = c.w.node('Clip', [x.name, c.w.floatConst(`${c.name}/min`, [], [0]), c.w.floatConst(`${c.name}/max`, [], [max])], {}, c.name);
  return { name: y, shape: c.outShape, nchw: x.nchw };
}

const unary =
  (op: string, attrs: (c: LayerCall) => Record<string, number>) =>
  (c: LayerCall): Val => ({ name: c.w.node(op, [c.inputs[0].name], attrs(c), c.name), shape: c.outShape, nchw: c.inputs[0].nchw });

/** The layer classes the ONNX exporter writes (Keras class names as tfjs serializes them). */
export const LAYER_WRITERS: Record<string, LayerWriter> = {
  Dense: dense,
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Conv2DTranspose: conv2dTranspose,
  BatchNormalization: batchNorm,
  Activation: (c) => activation(c.w, c.inputs[0], c.config.activation, c.name),
  ReLU: reluLayer,
  LeakyReLU: unary('LeakyRelu', (c) => ({ alpha: num(c.config.alpha, 0.3) })),
  ELU: unary('Elu', (c) => ({ alpha: num(c.config.alpha, 1) })),
  ThresholdedReLU: unary('ThresholdedRelu', (c) => ({ alpha: num(c.config.theta, 1) })),
  Softmax: softmaxLayer,
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  GlobalAveragePooling1D: globalPool1d('ReduceMean'),
  GlobalMaxPooling1D: globalPool1d('ReduceMax'),
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  Dropout: passThrough,
  SpatialDropout1D: passThrough,
  SpatialDropout2D: passThrough,
  GaussianNoise: passThrough,
  GaussianDropout: passThrough,
  AlphaDropout: passThrough,
  Add: merge('Add'),
  Subtract: merge('Sub'),
  Multiply: merge('Mul'),
  Average: merge('Mean'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  Concatenate: concatenate,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  UpSampling2D: upSampling2d,
  Rescaling: rescaling,
};
