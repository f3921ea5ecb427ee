// Forward-pass FLOPs of a Layers model (one example): 2 per multiply-accumulate of Dense and convolution layers,
// counted dense (what a dense runtime executes; unstructured zeros do not reduce it, structured pruning does).
// Other layers (activations, pooling, batch norm) are left out: they are a rounding error next to the MACs.
// A stop-gap for the autocompress objective until the model-stats FLOPs count (src/ml/model-stats.ts) lands.
import type { tf } from '../../tf.ts';

/** Per-example output dims of a layer (its first output when it has several; unknown dims count as 1). */
function dims(shape: (number | null)[] | (number | null)[][]): number[] {
  const first = (Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
  return first.slice(1).map((d) => d ?? 1);
}
const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** FLOPs of one forward pass of one example through `model`'s Dense and Conv layers. */
export function modelFlops(model: tf.LayersModel): number {
  let flops = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const kernel = layer.weights.find((w) => w.originalName.endsWith('/kernel') || w.originalName.endsWith('/depthwise_kernel'));
    if (!kernel) continue;
    const k = kernel.shape as number[];
    const out = dims(layer.outputShape);
    if (cls === 'Dense') {
      // [..., in] × [in, units] for every leading position.
      flops += 2 * prod(k) * prod(out.slice(0, -1));
    } else if (cls === 'Conv1D' || cls === 'Conv2D' || cls === 'DepthwiseConv2D' || cls === 'SeparableConv2D') {
      // Every output position of every output channel takes one kernel window of MACs.
      const spatial = prod(out.slice(0, -1));
      flops += 2 * prod(k) * spatial;
      if (cls === 'SeparableConv2D') {
        const pointwise = layer.weights.find((w) => w.originalName.endsWith('/pointwise_kernel'));
        if (pointwise) flops += 2 * prod(pointwise.shape as number[]) * spatial;
      }
    }
  }
  return flops;
}
