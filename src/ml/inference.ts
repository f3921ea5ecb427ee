// A LayersModel compiled for inference: the forward pass as a flat list of steps over the layer graph, with
// BatchNormalization folded into the Conv2D / DepthwiseConv2D / Dense before it (W' = W·s, b' = (b − μ)·s + β with
// s = γ / √(σ² + ε), per output channel) and a following ReLU / ReLU(maxValue 6) / Activation fused into that
// layer's kernel (FusedConv2D, FusedDepthwiseConv2D, _FusedMatMul with bias and activation): conv → BN → ReLU6,
// three layers and four kernels (conv, FusedBatchNorm, Relu, ClipByValue) under tfjs-layers, is one kernel here.
// Inference-only layers (Dropout, GaussianNoise, …) are skipped; every other layer runs its own apply().
//
// Why: at batch 1 a small network's predict() is per-layer and per-kernel overhead (mobilenet-v2 0.5 on 28×28:
// 1.75 M MACs, 290 kernels, ~2 ms), which structured pruning cannot remove — it removes channels, not layers — so
// the pruned model was barely faster at batch 1; and tfjs-wasm's FusedBatchNorm is slower than the convolutions
// it follows at batch 256. This is what an inference runtime does (ONNX Runtime fuses Conv+BatchNormalization and
// Conv+Relu/Clip at session creation; TFLite converters fold BN), so the latency figures of every report run both the
// model before and the model after a compression through it. The stored model is not changed (BN stays, trainable);
// outputs equal model.apply(x, { training: false }) within float32 rounding (test/unit/ml-inference.test.ts: 1e-5).
import { tf } from './tf.ts';

type Activation = 'linear' | 'relu' | 'relu6' | 'elu' | 'sigmoid';

/** Layer activations the fused kernels of every backend run (tfjs fused ops: linear, relu, relu6, elu, sigmoid, …). */
const FUSABLE: Record<string, Activation> = { linear: 'linear', relu: 'relu', relu6: 'relu6', elu: 'elu', sigmoid: 'sigmoid' };

/** Layers that are the identity at inference. */
const IDENTITY_AT_INFERENCE = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

interface LinearStep {
  kind: 'conv2d' | 'depthwise' | 'dense';
  layer: tf.layers.Layer;
  input: number;
  output: number;
  /** Folded copies (the step owns them). */
  weight: tf.Tensor;
  bias: tf.Tensor1D | null;
  activation: Activation;
  /** The weight as [1, in, out] for the batched matMul kernel (dense, kernel program only). */
  weight3d?: tf.Tensor;
  /** A softmax after the activation (a Dense layer's own softmax: no fused kernel has it); nothing is absorbed then. */
  softmax: boolean;
  /** BatchNormalization layers folded into this step, then the activation layer fused, if any. */
  folded: string[];
}

interface OpStep {
  kind: 'layer';
  layer: tf.layers.Layer;
  inputs: number[];
  outputs: number[];
  run: (xs: tf.Tensor[]) => tf.Tensor[];
}

type Step = LinearStep | OpStep;

export interface InferenceModel {
  /** Outputs for x (one input model); the caller disposes them. Runs in a tidy: no intermediates left. */
  predict(x: tf.Tensor): tf.Tensor;
  /** Layers folded or fused away (BatchNormalization into convs, activations into kernels, dropout skipped). */
  readonly removedLayers: string[];
  /** Steps per forward pass (a conv with its BN and activation counts one). */
  readonly steps: number;
  /** Backend kernel calls per forward pass when it runs as a kernel program; null when it runs through tf ops. */
  readonly kernels: number | null;
  dispose(): void;
}

type Config = Record<string, unknown>;
const configOf = (layer: tf.layers.Layer) => layer.getConfig() as Config;

function activationOf(layer: tf.layers.Layer): string | null {
  const a = configOf(layer).activation;
  return typeof a === 'string' ? a : a == null ? 'linear' : null;
}

/** The fused activation a standalone activation layer computes, or null. */
function standaloneActivation(layer: tf.layers.Layer): Activation | null {
  const cls = layer.getClassName();
  const cfg = configOf(layer);
  if (cls === 'ReLU') {
    if (cfg.maxValue == null) return 'relu';
    return cfg.maxValue === 6 ? 'relu6' : null;
  }
  if (cls === 'Activation') return FUSABLE[String(cfg.activation)] ?? null;
  return null;
}

const weightByName = (layer: tf.layers.Layer, suffix: string): tf.LayerVariable | undefined =>
  layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`) || w.originalName === suffix);

/** Per-channel s and t of an inference-mode BatchNormalization over the last axis: y = x·s + t. */
function batchNormAffine(bn: tf.layers.Layer): { s: Float64Array; t: Float64Array } | null {
  const cfg = configOf(bn);
  const axis = cfg.axis;
  const rank = (bn.input as tf.SymbolicTensor).shape.length;
  if (!(axis === -1 || axis === rank - 1 || (Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === rank - 1)))) return null;
  const read = (name: string) => {
    const v = weightByName(bn, name);
    return v ? Float64Array.from(v.read().dataSync()) : null;
  };
  const mean = read('moving_mean');
  const variance = read('moving_variance');
  if (!mean || !variance) return null;
  const gamma = cfg.scale === false ? null : read('gamma');
  const beta = cfg.center === false ? null : read('beta');
  const eps = Number(cfg.epsilon ?? 1e-3);
  const s = new Float64Array(mean.length);
  const t = new Float64Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    s[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
    t[c] = (beta ? beta[c] : 0) - mean[c] * s[c];
  }
  return { s, t };
}

/** The linear step of a Conv2D / DepthwiseConv2D / Dense layer (channels last), with copies of its weights; else null. */
function linearStep(layer: tf.layers.Layer, input: number, output: number): LinearStep | null {
  const cls = layer.getClassName();
  const cfg = configOf(layer);
  const act = activationOf(layer);
  const softmax = act === 'softmax' && cls === 'Dense';
  const activation = softmax ? 'linear' : act === null ? undefined : FUSABLE[act];
  if (activation === undefined) return null;
  const inShape = (layer.input as tf.SymbolicTensor).shape;
  let kind: LinearStep['kind'];
  if (cls === 'Conv2D' && cfg.dataFormat !== 'channelsFirst') kind = 'conv2d';
  // tfjs-layers' DepthwiseConv2D ignores its dilationRate (runs undilated): such a layer keeps its own apply().
  else if (cls === 'DepthwiseConv2D' && cfg.dataFormat !== 'channelsFirst' && [cfg.dilationRate ?? 1].flat().every((d) => d === 1))
    kind = 'depthwise';
  else if (cls === 'Dense' && inShape.length === 2) kind = 'dense';
  else return null;
  const kernel = weightByName(layer, kind === 'depthwise' ? 'depthwise_kernel' : 'kernel');
  if (!kernel) return null;
  const bias = cfg.useBias === false ? null : weightByName(layer, 'bias');
  return {
    kind,
    layer,
    input,
    output,
    weight: tf.clone(kernel.read()),
    bias: bias ? (tf.clone(bias.read()) as tf.Tensor1D) : null,
    activation,
    softmax,
    folded: [],
  };
}

/** Folds y = x·s + t (per output channel) into step's weight and bias. */
function foldAffine(step: LinearStep, s: Float64Array, t: Float64Array): void {
  const w = step.weight.dataSync();
  const outChannels = s.length;
  const folded = new Float32Array(w.length);
  // Output channel of element i: the last axis (conv2d, dense), or c·m + k over the last two (depthwise [h, w, C, m]).
  for (let i = 0; i < w.length; i++) folded[i] = w[i] * s[i % outChannels];
  const b = step.bias ? step.bias.dataSync() : null;
  const bias = new Float32Array(outChannels);
  for (let c = 0; c < outChannels; c++) bias[c] = (b ? b[c] : 0) * s[c] + t[c];
  const shape = step.weight.shape;
  tf.dispose([step.weight, step.bias ?? []]);
  step.weight = tf.tensor(folded, shape);
  step.bias = tf.tensor1d(bias);
}

/** A linear step through tf ops (the fallback when the model does not compile to a kernel program). */
function runLinear(step: LinearStep, x: tf.Tensor): tf.Tensor {
  const bias = step.bias ?? undefined;
  if (step.kind === 'dense') {
    const y = tf.fused.matMul({ a: x, b: step.weight, bias, activation: step.activation });
    return step.softmax ? tf.softmax(y) : y;
  }
  const cfg = configOf(step.layer);
  const args = {
    x: x as tf.Tensor4D,
    filter: step.weight as tf.Tensor4D,
    strides: cfg.strides as [number, number],
    pad: cfg.padding as 'same' | 'valid',
    dilations: (cfg.dilationRate ?? 1) as [number, number] | number,
    bias,
    activation: step.activation,
  };
  return step.kind === 'conv2d' ? tf.fused.conv2d(args) : tf.fused.depthwiseConv2d(args);
}

const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** The model's own apply(): for models this compiler does not take (several inputs, shared layers, masking). */
function uncompiled(model: tf.LayersModel): InferenceModel {
  return {
    predict: (x) => model.apply(x, { training: false }) as tf.Tensor,
    removedLayers: [],
    steps: model.layers.length,
    kernels: null,
    dispose: () => {},
  };
}

/**
 * Compiles `model` for inference (see the file comment). Single-input, single-output models whose layers are each
 * used once; anything else (and models with masking) is returned as its own apply(). The model must outlive the
 * result (layers that are not folded run their own apply()); the result's weights are copies taken now.
 */
export function compileForInference(model: tf.LayersModel): InferenceModel {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return uncompiled(model);
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const masking = layers.some((l) => l.getClassName() === 'Masking' || (l.getClassName() === 'Embedding' && configOf(l).maskZero === true));
  if (masking || layers.some((l) => l.inboundNodes.length !== 1 || Array.isArray(l.output))) return uncompiled(model);

  const inputId = model.inputs[0].id;
  const outputId = model.outputs[0].id;
  // Consumers of each symbolic tensor (the model output counts as one).
  const consumers = new Map<number, number>([[outputId, 1]]);
  for (const l of layers) for (const t of asArray(l.input)) consumers.set(t.id, (consumers.get(t.id) ?? 0) + 1);

  const steps: Step[] = [];
  /** The step that produced each tensor id, while it may still absorb a following BN / activation. */
  const producer = new Map<number, LinearStep>();
  /** Tensor ids replaced by another (layers skipped or folded away). */
  const alias = new Map<number, number>();
  const resolve = (id: number) => alias.get(id) ?? id;
  const removed: string[] = [];
  try {
    for (const layer of layers) {
      const cls = layer.getClassName();
      const ins = asArray(layer.input).map((t) => resolve(t.id));
      const out = (layer.output as tf.SymbolicTensor).id;
      const single = ins.length === 1 ? ins[0] : null;
      const prev = single === null ? undefined : producer.get(single);
      // The previous linear step may absorb this layer when this layer is its output's only consumer.
      const absorbable = prev !== undefined && !prev.softmax && consumers.get(prev.output) === 1 && prev.output !== outputId;
      if (IDENTITY_AT_INFERENCE.has(cls) && single !== null) {
        alias.set(out, single);
        removed.push(layer.name);
        continue;
      }
      if (cls === 'BatchNormalization' && absorbable && prev.activation === 'linear') {
        const affine = batchNormAffine(layer);
        const [, b, c, d] = prev.weight.shape as number[];
        const outChannels = prev.kind === 'depthwise' ? c * d : prev.kind === 'conv2d' ? d : b;
        if (affine && affine.s.length === outChannels) {
          foldAffine(prev, affine.s, affine.t);
          prev.folded.push(layer.name);
          removed.push(layer.name);
          alias.set(out, prev.output);
          // The BN's consumers now consume the step's output.
          consumers.set(prev.output, consumers.get(out) ?? 0);
          continue;
        }
      }
      const act = standaloneActivation(layer);
      if (act && absorbable && prev.activation === 'linear') {
        prev.activation = act;
        prev.folded.push(layer.name);
        removed.push(layer.name);
        alias.set(out, prev.output);
        consumers.set(prev.output, consumers.get(out) ?? 0);
        producer.delete(prev.output);
        continue;
      }
      if (single !== null) {
        const step = linearStep(layer, single, out);
        if (step) {
          steps.push(step);
          producer.set(out, step);
          continue;
        }
      }
      let run: OpStep['run'];
      if (cls === 'Add' && ins.length >= 2) run = (xs) => [xs.slice(1).reduce((a, b) => tf.add(a, b), xs[0])];
      else if (cls === 'GlobalAveragePooling2D' && configOf(layer).dataFormat !== 'channelsFirst') run = (xs) => [tf.mean(xs[0], [1, 2])];
      else if (cls === 'Activation' && configOf(layer).activation === 'softmax') run = (xs) => [tf.softmax(xs[0])];
      else run = (xs) => asArray(layer.apply(xs.length === 1 ? xs[0] : xs, { training: false }) as tf.Tensor | tf.Tensor[]);
      steps.push({ kind: 'layer', layer, inputs: ins, outputs: [out], run });
    }
  } catch (e) {
    for (const s of steps) if (s.kind !== 'layer') tf.dispose([s.weight, s.bias ?? []]);
    throw e;
  }
  const finalId = resolve(outputId);
  const program = kernelProgram(steps, inputId, finalId);
  const dispose = () => {
    for (const st of steps) if (st.kind !== 'layer') tf.dispose([st.weight, st.bias ?? []]);
    program?.dispose();
  };
  const predict = program
    ? (x: tf.Tensor) => program.run(x)
    : (x: tf.Tensor): tf.Tensor =>
        tf.tidy(() => {
          const values = new Map<number, tf.Tensor>([[inputId, x]]);
          for (const st of steps) {
            if (st.kind === 'layer') {
              const outs = st.run(st.inputs.map((id) => values.get(id)!));
              st.outputs.forEach((id, i) => values.set(id, outs[i]));
            } else values.set(st.output, runLinear(st, values.get(st.input)!));
          }
          return values.get(finalId)!;
        });
  return { predict, removedLayers: removed, steps: steps.length, kernels: program?.kernels ?? null, dispose };
}

// ---- The kernel program: every step one backend kernel call on TensorInfos, outside the engine. ----

/** A kernel's input: the model input, a constant (a weight), or the output of an earlier call. */
type Ref = { input: true } | { constant: tf.Tensor } | { call: number };

interface KernelCall {
  name: string;
  inputs: Record<string, Ref>;
  attrs: tf.NamedAttrMap;
}

/** The kernel calls of one step, or null when the step has no kernel form (its layer's apply() runs then). */
function callsOf(step: Step, ref: (id: number) => Ref, first: number): KernelCall[] | null {
  const prev = (k: number): Ref => ({ call: first + k });
  if (step.kind === 'conv2d' || step.kind === 'depthwise') {
    const cfg = configOf(step.layer);
    const d = (cfg.dilationRate ?? 1) as [number, number] | number;
    const inputs: Record<string, Ref> = { x: ref(step.input), filter: { constant: step.weight } };
    if (step.bias) inputs.bias = { constant: step.bias };
    const attrs = {
      strides: cfg.strides,
      pad: cfg.padding,
      dataFormat: 'NHWC',
      dilations: typeof d === 'number' ? [d, d] : d,
      dimRoundingMode: null,
      activation: step.activation,
      leakyreluAlpha: 0,
    } as unknown as tf.NamedAttrMap;
    return [{ name: step.kind === 'conv2d' ? tf.FusedConv2D : tf.FusedDepthwiseConv2D, inputs, attrs }];
  }
  if (step.kind === 'dense') {
    // The kernel multiplies batched [1, n, in] × [1, in, out].
    const [inDim, units] = step.weight.shape as number[];
    const calls: KernelCall[] = [
      { name: tf.Reshape, inputs: { x: ref(step.input) }, attrs: { shape: [1, -1, inDim] } },
      {
        name: tf._FusedMatMul,
        inputs: { a: prev(0), b: { constant: step.weight3d! }, ...(step.bias ? { bias: { constant: step.bias } } : {}) },
        attrs: { transposeA: false, transposeB: false, activation: step.activation, leakyreluAlpha: 0 },
      },
      { name: tf.Reshape, inputs: { x: prev(1) }, attrs: { shape: [-1, units] } },
    ];
    if (step.softmax) calls.push({ name: tf.Softmax, inputs: { logits: prev(2) }, attrs: { dim: 1 } });
    return calls;
  }
  if (step.kind !== 'layer') return null;
  const cls = step.layer.getClassName();
  const cfg = configOf(step.layer);
  const ins = step.inputs.map(ref);
  if (cls === 'Add') return ins.slice(1).map((b, k) => ({ name: tf.Add, inputs: { a: k === 0 ? ins[0] : prev(k - 1), b }, attrs: {} }));
  if (cls === 'GlobalAveragePooling2D' && cfg.dataFormat !== 'channelsFirst')
    return [{ name: tf.Mean, inputs: { x: ins[0] }, attrs: { axis: [1, 2], keepDims: false } }];
  const act = standaloneActivation(step.layer) ?? (cls === 'Activation' && cfg.activation === 'softmax' ? 'softmax' : null);
  const rank = (step.layer.output as tf.SymbolicTensor).shape.length;
  const unary: Record<string, [string, tf.NamedAttrMap]> = {
    relu: [tf.Relu, {}],
    relu6: [tf.Relu6, {}],
    elu: [tf.Elu, {}],
    sigmoid: [tf.Sigmoid, {}],
    linear: [tf.Identity, {}],
    softmax: [tf.Softmax, { dim: rank - 1 }],
  };
  if (act && unary[act]) return [{ name: unary[act][0], inputs: act === 'softmax' ? { logits: ins[0] } : { x: ins[0] }, attrs: unary[act][1] }];
  const outShape = (step.layer.output as tf.SymbolicTensor).shape.slice(1);
  if ((cls === 'Flatten' || cls === 'Reshape') && outShape.every((d) => typeof d === 'number' && d > 0))
    return [{ name: tf.Reshape, inputs: { x: ins[0] }, attrs: { shape: [-1, ...(outShape as number[])] } }];
  return null;
}

type Backend = tf.KernelBackend & { disposeData(dataId: object): boolean };

type WasmHeap = {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
};

/** Elements up to which a residual Add runs as a JS loop on the wasm heap (above it, the wasm kernel). */
const SMALL_ADD = 16384;

/**
 * A residual Add of two same-shape float32 tensors as a loop over wasm heap views: tfjs-backend-wasm's Add kernel
 * costs ~3 µs of JS glue per call (broadcast shapes, array arguments through ccall) whatever the size, more than the
 * adding itself at batch 1 (mobilenet-v2 0.5: 11 Adds of ≤ 1,568 elements). Float32 sums through doubles round
 * exactly as float32 adds. Null (run the kernel) for anything else.
 */
function smallAdd(a: tf.TensorInfo, b: tf.TensorInfo, backend: WasmHeap): tf.TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return null;
  const n = a.shape.reduce((p, d) => p * d, 1);
  if (n > SMALL_ADD) return null;
  const out = backend.makeOutput(a.shape, 'float32');
  // Views after the allocation: growing wasm memory detaches older views.
  const av = backend.typedArrayFromHeap(a);
  const bv = backend.typedArrayFromHeap(b);
  const ov = backend.typedArrayFromHeap(out);
  for (let i = 0; i < n; i++) ov[i] = av[i] + bv[i];
  return out;
}

interface Program {
  run(x: tf.Tensor): tf.Tensor;
  kernels: number;
  dispose(): void;
}

/**
 * The steps as a flat list of kernel calls run straight on the backend (no engine bookkeeping: tensors, scopes,
 * gradient checks cost more than a small kernel); each intermediate is released after its last use. Null when a
 * step has no kernel form or the backend lacks a kernel.
 */
function kernelProgram(steps: Step[], inputId: number, finalId: number): Program | null {
  const calls: KernelCall[] = [];
  const producedBy = new Map<number, number>();
  const ref = (id: number): Ref => (id === inputId ? { input: true } : { call: producedBy.get(id)! });
  const dropReshaped = () => {
    for (const s of steps) if (s.kind === 'dense') tf.dispose(s.weight3d ?? []);
  };
  for (const step of steps) {
    if (step.kind === 'dense') step.weight3d = tf.reshape(step.weight, [1, ...step.weight.shape]);
    const own = callsOf(step, ref, calls.length);
    if (!own) {
      dropReshaped();
      return null;
    }
    calls.push(...own);
    const out = step.kind === 'layer' ? step.outputs[0] : step.output;
    producedBy.set(out, calls.length - 1);
  }
  const backendName = tf.getBackend();
  const kernels = calls.map((c) => tf.getKernel(c.name, backendName));
  const jsAdd = calls.map((c) => backendName === 'wasm' && c.name === tf.Add);
  // Only on the CPU backends it is tested on (test/unit/ml-inference.test.ts); GPU backends run the tf ops path.
  const tested = backendName === 'wasm' || backendName === 'cpu';
  if (!tested || kernels.some((k) => !k) || (finalId !== inputId && !producedBy.has(finalId))) {
    dropReshaped();
    return null;
  }
  const finalCall = finalId === inputId ? -1 : producedBy.get(finalId)!;
  // Last call reading each call's output (released after it).
  const lastUse = calls.map(() => -1);
  calls.forEach((c, i) => {
    for (const r of Object.values(c.inputs)) if ('call' in r) lastUse[r.call] = i;
  });
  const releaseAfter = calls.map((): number[] => []);
  lastUse.forEach((at, k) => {
    if (k !== finalCall) releaseAfter[at === -1 ? k : at].push(k);
  });
  const constants = calls.map((c) =>
    Object.fromEntries(
      Object.entries(c.inputs)
        .filter(([, r]) => 'constant' in r)
        .map(([k, r]) => [k, (r as { constant: tf.Tensor }).constant]),
    ),
  );
  return {
    kernels: calls.length,
    run(x: tf.Tensor): tf.Tensor {
      if (finalCall === -1) return tf.clone(x);
      const engine = tf.engine();
      const backend = engine.backend as Backend;
      const outs: (tf.TensorInfo | null)[] = calls.map(() => null);
      const xInfo: tf.TensorInfo = { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      try {
        for (let i = 0; i < calls.length; i++) {
          const c = calls[i];
          const inputs: tf.NamedTensorInfoMap = {};
          for (const key in c.inputs) {
            const r = c.inputs[key];
            inputs[key] = 'input' in r ? xInfo : 'call' in r ? outs[r.call]! : constants[i][key];
          }
          outs[i] =
            (jsAdd[i] ? smallAdd(inputs.a!, inputs.b!, backend as unknown as WasmHeap) : null) ??
            (kernels[i].kernelFunc({ inputs, attrs: c.attrs, backend }) as tf.TensorInfo);
          for (const k of releaseAfter[i]) {
            backend.disposeData(outs[k]!.dataId);
            outs[k] = null;
          }
        }
        const y = engine.makeTensorFromTensorInfo(outs[finalCall]!, backend);
        outs[finalCall] = null;
        return y;
      } finally {
        for (const o of outs) if (o) backend.disposeData(o.dataId);
      }
    },
    dispose: dropReshaped,
  };
}
