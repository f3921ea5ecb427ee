// The common case a compiled training step covers, read off a model once: a chain of Dense / Conv2D /
// MaxPooling2D / Flatten / activation layers ending in logits or a softmax, trained on all its weights with the
// default cross-entropy. Both compiled steps build from this plan — the wasm one (train-program.ts) and the WebGPU
// one (webgpu/gpu-train-program.ts) — so what "the common case" means is decided in one place; a model it refuses
// trains on tfjs-layers' autodiff (src/ml/train-step.ts).
import { outputsProbabilities } from './loss.ts';
import { tf } from './tf.ts';

export type Activation = 'linear' | 'relu';

interface Weighted {
  name: string;
  kernel: tf.Variable;
  bias: tf.Variable | null;
  activation: Activation;
  /** Index in the trained-variable list of the kernel's / bias's gradient (−1: not trained). */
  kernelGrad: number;
  biasGrad: number;
}

export interface DensePlan extends Weighted {
  kind: 'dense';
}
export interface Conv2DPlan extends Weighted {
  kind: 'conv2d';
  strides: [number, number];
  pad: 'same' | 'valid';
}
export interface MaxPoolPlan {
  kind: 'maxPool';
  name: string;
  size: [number, number];
  strides: [number, number];
  pad: 'same' | 'valid';
}
export interface ReshapePlan {
  kind: 'reshape';
  name: string;
  /** Output shape without the batch dimension. */
  shape: number[];
}
export interface ActivationPlan {
  kind: 'activation';
  name: string;
  activation: Activation;
}
export type LayerPlan = DensePlan | Conv2DPlan | MaxPoolPlan | ReshapePlan | ActivationPlan;

export interface ChainPlan {
  layers: LayerPlan[];
  /** Input shape without the batch dimension. */
  inShape: number[];
  classes: number;
  /** The model ends in a softmax (the loss is taken on probabilities, clipped as src/ml/loss.ts does). */
  probabilities: boolean;
  /** Number of trained variables (the gradient list's length). */
  vars: number;
  /** Index of the first layer with a trained weight (layers before it need no input gradient). */
  firstTrained: number;
}

type Config = Record<string, unknown>;

const pair = (v: unknown): [number, number] | null => {
  const a = Array.isArray(v) ? v : [v, v];
  return a.length === 2 && a.every((n) => Number.isInteger(n) && n > 0) ? [a[0] as number, a[1] as number] : null;
};

/** The plan of `model` trained on `vars` (in that order) against yWidth-wide one-hot labels, or why there is none. */
export function planChain(model: tf.LayersModel, vars: tf.Variable[], yWidth: number): { plan: ChainPlan | null; reason: string | null } {
  const refuse = (reason: string) => ({ plan: null, reason });
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return refuse('not one input and one output');
  if (vars.some((v) => v.dtype !== 'float32')) return refuse('a variable is not float32');
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  // A chain: every layer used once, fed by the previous one.
  let prev = model.inputs[0];
  for (const l of layers) {
    if (l.inboundNodes.length !== 1 || Array.isArray(l.input) || Array.isArray(l.output)) return refuse(`${l.name} is not in a chain`);
    if (l.input.id !== prev.id) return refuse(`${l.name} is not in a chain`);
    prev = l.output;
  }
  if (prev.id !== model.outputs[0].id) return refuse('the output is not the last layer');
  const inShape = model.inputs[0].shape.slice(1);
  if (!inShape.every((d) => typeof d === 'number' && d > 0)) return refuse('input shape not fixed');

  const used = new Set<number>();
  const plans: LayerPlan[] = [];
  let firstTrained = -1;
  const gradIndex = (w: tf.LayerVariable | undefined): number => {
    if (!w) return -1;
    const v = w.read();
    const i = vars.findIndex((x) => x === v);
    if (i >= 0) used.add(i);
    if (i >= 0 && firstTrained < 0) firstTrained = plans.length;
    return i;
  };
  const byName = (l: tf.layers.Layer, suffix: string) => l.weights.find((w) => w.originalName.endsWith(`/${suffix}`) || w.originalName === suffix);
  let finalSoftmax = false;
  for (let li = 0; li < layers.length; li++) {
    const l = layers[li];
    const last = li === layers.length - 1;
    const cls = l.getClassName();
    const cfg = l.getConfig() as Config;
    const act = typeof cfg.activation === 'string' ? cfg.activation : cfg.activation == null ? 'linear' : 'custom';
    if (finalSoftmax) return refuse('softmax before the last layer');
    if (act === 'softmax' && !last) return refuse(`${l.name}: softmax before the last layer`);
    const activation: Activation | null = act === 'relu' || act === 'linear' ? act : act === 'softmax' ? 'linear' : null;
    if (act === 'softmax') finalSoftmax = true;
    const inRank = (l.input as tf.SymbolicTensor).shape.length;
    const kernelVar = byName(l, 'kernel');
    const biasVar = cfg.useBias === false ? undefined : byName(l, 'bias');
    const weightsKnown = (n: number) => l.weights.length === n;
    const weighted = (a: Activation) => ({
      name: l.name,
      kernel: kernelVar!.read() as tf.Variable,
      bias: (biasVar?.read() as tf.Variable) ?? null,
      activation: a,
      kernelGrad: gradIndex(kernelVar),
      biasGrad: gradIndex(biasVar),
    });
    if (cls === 'Dense') {
      if (!activation) return refuse(`${l.name}: activation ${act}`);
      if (inRank !== 2 || !kernelVar || !weightsKnown(biasVar ? 2 : 1)) return refuse(`${l.name}: unsupported Dense`);
      plans.push({ kind: 'dense', ...weighted(activation) });
    } else if (cls === 'Conv2D') {
      const strides = pair(cfg.strides);
      const dil = pair(cfg.dilationRate ?? 1);
      if (!activation) return refuse(`${l.name}: activation ${act}`);
      if (cfg.dataFormat === 'channelsFirst' || !strides || !dil || dil[0] !== 1 || dil[1] !== 1) return refuse(`${l.name}: unsupported Conv2D`);
      if ((cfg.padding !== 'same' && cfg.padding !== 'valid') || !kernelVar || !weightsKnown(biasVar ? 2 : 1))
        return refuse(`${l.name}: unsupported Conv2D`);
      plans.push({ kind: 'conv2d', ...weighted(activation), strides, pad: cfg.padding });
    } else if (cls === 'MaxPooling2D') {
      const size = pair(cfg.poolSize);
      const strides = pair(cfg.strides ?? cfg.poolSize);
      if (cfg.dataFormat === 'channelsFirst' || !size || !strides || (cfg.padding !== 'same' && cfg.padding !== 'valid'))
        return refuse(`${l.name}: unsupported MaxPooling2D`);
      plans.push({ kind: 'maxPool', name: l.name, size, strides, pad: cfg.padding });
    } else if (cls === 'Flatten' || cls === 'Reshape') {
      const out = (l.output as tf.SymbolicTensor).shape.slice(1);
      if (!out.every((d) => typeof d === 'number' && d > 0)) return refuse(`${l.name}: shape not fixed`);
      plans.push({ kind: 'reshape', name: l.name, shape: out as number[] });
    } else if (cls === 'Activation' || cls === 'ReLU' || cls === 'Softmax') {
      const a = cls === 'ReLU' ? (cfg.maxValue == null ? 'relu' : null) : cls === 'Softmax' ? 'softmax' : act;
      if (a === 'softmax') {
        if (!last || (cls === 'Softmax' && cfg.axis !== -1 && cfg.axis !== inRank - 1)) return refuse(`${l.name}: softmax before the last layer`);
        finalSoftmax = true;
      } else if (a !== 'relu' && a !== 'linear') return refuse(`${l.name}: activation ${a}`);
      else plans.push({ kind: 'activation', name: l.name, activation: a });
    } else return refuse(`${l.name}: layer ${cls}`);
  }
  if (used.size !== vars.length) return refuse('a trainable variable is not a weight the program updates');
  const outShape = model.outputs[0].shape;
  const classes = outShape[outShape.length - 1];
  if (outShape.length !== 2 || typeof classes !== 'number') return refuse('output is not [batch, classes]');
  // The loss follows the model's head as defaultLoss does (src/ml/loss.ts).
  if (finalSoftmax !== outputsProbabilities(model)) return refuse('head not recognised');
  if (yWidth !== classes) return refuse(`labels are ${yWidth} wide, the output ${classes}`);
  const plan = { layers: plans, inShape: inShape as number[], classes, probabilities: finalSoftmax, vars: vars.length, firstTrained };
  return { plan, reason: null };
}
