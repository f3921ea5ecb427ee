// FLOPs of a model as multiply-adds per example (MACs, the "Mult-Adds" of the MobileNet papers), computed from each
// layer's config and its built input/output shapes, so a summary needs no weights. Counted: the weighted linear
// maps (Dense, Conv1D/2D/3D, Conv2DTranspose, DepthwiseConv2D, SeparableConv1D/2D, the input and recurrent kernels
// of SimpleRNN/LSTM/GRU, Bidirectional and TimeDistributed wrappers of those) and Dot. Elementwise work (bias,
// batch norm, activations, pooling, merges) is left out: it is small and folded into the linear ops at inference.
import { tf } from './tf.ts';

type Shape = (number | null)[];

const prod = (dims: readonly (number | null | undefined)[]) => dims.reduce<number>((a, b) => a * (b ?? 1), 1);

/** Shapes of a layer's first inbound node (a shared layer: the first call). */
function shapes(layer: tf.layers.Layer): { input: Shape; inputs: Shape[]; output: Shape } {
  const node = layer.inboundNodes[0];
  const inputs = node ? node.inputTensors.map((t) => t.shape) : [];
  const output = node ? node.outputTensors[0].shape : (layer.outputShape as Shape);
  return { input: inputs[0] ?? [], inputs, output };
}

type Config = Record<string, unknown>;

/** MACs per example of a recurrent cell over a sequence: input and recurrent kernels, every gate, every step. */
function rnnFlops(className: string, config: Config, input: Shape): number {
  const gates = className === 'LSTM' ? 4 : className === 'GRU' ? 3 : className === 'SimpleRNN' ? 1 : 0;
  const units = config.units as number;
  const steps = input[1] ?? 1;
  const features = input[input.length - 1] ?? 0;
  return gates * units * (features + units) * steps;
}

/** MACs per example of one layer given its class, config and shapes (batch axis first, dropped). */
export function flopsOf(className: string, config: Config, input: Shape, output: Shape, inputs: Shape[] = [input]): number {
  const cin = input[input.length - 1] ?? 0;
  const spatialOut = prod(output.slice(1, -1));
  const kernel = prod((config.kernelSize as number[] | number | undefined) === undefined ? [] : [config.kernelSize as number[]].flat());
  switch (className) {
    case 'Dense':
      return prod(output.slice(1, -1)) * cin * (config.units as number);
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv3D':
      return prod(output.slice(1)) * kernel * cin;
    case 'Conv2DTranspose':
      // Each input position scatters a kernel-sized patch into every output channel.
      return prod(input.slice(1, -1)) * kernel * cin * (output[output.length - 1] ?? 0);
    case 'DepthwiseConv2D':
      return prod(output.slice(1)) * kernel;
    case 'SeparableConv1D':
    case 'SeparableConv2D': {
      const mid = cin * ((config.depthMultiplier as number | undefined) ?? 1);
      return spatialOut * mid * kernel + spatialOut * mid * (output[output.length - 1] ?? 0);
    }
    case 'SimpleRNN':
    case 'LSTM':
    case 'GRU':
      return rnnFlops(className, config, input);
    case 'Bidirectional': {
      const inner = config.layer as { className: string; config: Config };
      return 2 * rnnFlops(inner.className, inner.config, input);
    }
    case 'TimeDistributed': {
      const inner = config.layer as { className: string; config: Config };
      const steps = input[1] ?? 1;
      return steps * flopsOf(inner.className, inner.config, [input[0], ...input.slice(2)], [output[0], ...output.slice(2)]);
    }
    case 'Dot': {
      // Batched contraction: every output element sums over the contracted axis of the first input.
      const axes = [config.axes as number | number[]].flat();
      const a = inputs[0] ?? input;
      const axis = axes[0] < 0 ? a.length + axes[0] : axes[0];
      return prod(output.slice(1)) * (a[axis] ?? 1);
    }
    default:
      return 0;
  }
}

/** MACs per example of a built layer. */
export function layerFlops(layer: tf.layers.Layer): number {
  const { input, inputs, output } = shapes(layer);
  const cls = layer.getClassName();
  // Wrapper configs serialize the inner layer in Python case; read the inner layer itself instead.
  const config: Config = layer.getConfig();
  const inner = (layer as unknown as { layer?: tf.layers.Layer }).layer;
  if (inner && (cls === 'Bidirectional' || cls === 'TimeDistributed')) config.layer = { className: inner.getClassName(), config: inner.getConfig() };
  return flopsOf(cls, config, input, output, inputs);
}

/** Total MACs per example and the per-layer figures, in model.layers order. */
export function modelFlops(model: tf.LayersModel): { flops: number; layers: { name: string; flops: number }[] } {
  const layers = model.layers.map((l) => ({ name: l.name, flops: layerFlops(l) }));
  return { flops: layers.reduce((s, l) => s + l.flops, 0), layers };
}
