// tfjs-backend-wasm 4.22's Tile computes every output element's source index in a loop (a division and modulo per
// axis per element). The gradient of BatchNormalization tiles the [C] inverse standard deviation to the full
// [N, H, W, C] activation shape for every BN layer, so that loop was the largest single kernel of a resnet-20
// training step on wasm (1,638 of 4,642 ms per batch of 64, 35%; bench/train-profile.ts --model resnet-20). The
// same result by block copies: from the innermost axis out, each axis with reps r > 1 repeats each of its
// contiguous blocks r times (TypedArray.set, then copyWithin doubling), axes with r = 1 cost nothing.
import { tf } from '../tf.ts';

type WasmBackend = {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
};

type Kernel = tf.KernelConfig['kernelFunc'];

/** Repeats each of the `blocks` contiguous blocks of `src` (`block` elements each) `reps` times into `dst`. */
function repeatBlocks(src: tf.TypedArray, dst: tf.TypedArray, blocks: number, block: number, reps: number): void {
  const grown = block * reps;
  for (let p = 0; p < blocks; p++) {
    const base = p * grown;
    dst.set(src.subarray(p * block, (p + 1) * block), base);
    for (let filled = block; filled < grown; filled *= 2) {
      dst.copyWithin(base + filled, base, base + Math.min(filled, grown - filled));
    }
  }
}

/** Tile on the wasm heap by block copies; `stock` (the backend's own kernel) for string tensors. */
export function tileConfig(stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: Parameters<Kernel>[0]) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return stock.kernelFunc(args);
    const reps = (attrs as unknown as tf.TileAttrs).reps;
    const b = backend as unknown as WasmBackend;
    const outShape = x.shape.map((s, i) => s * reps[i]);
    const out = b.makeOutput(outShape, x.dtype);
    const size = outShape.reduce((n, s) => n * s, 1);
    if (size === 0) return out;
    // Views after the allocation: growing wasm memory detaches older views.
    const xv = b.typedArrayFromHeap(x);
    const ov = b.typedArrayFromHeap(out);
    const axes = x.shape.map((_, i) => i).filter((i) => reps[i] > 1);
    if (axes.length === 0) {
      ov.set(xv);
      return out;
    }
    // Innermost axis first; the data so far: prod(x.shape[0..d)) blocks of x.shape[d] · prod(outShape(d..]) elements.
    const Ctor = ov.constructor as new (n: number) => tf.TypedArray;
    let src: tf.TypedArray = xv;
    // Two scratch buffers alternate between the stages before the last (a stage never writes what it reads).
    const scratch: tf.TypedArray[] = [];
    for (let k = axes.length - 1; k >= 0; k--) {
      const d = axes[k];
      const blocks = x.shape.slice(0, d).reduce((n, s) => n * s, 1);
      const block = x.shape[d] * outShape.slice(d + 1).reduce((n, s) => n * s, 1);
      const which = src === scratch[0] ? 1 : 0;
      const dst = k === 0 ? ov : (scratch[which] ??= new Ctor(size));
      repeatBlocks(src, dst, blocks, block, reps[d]);
      src = dst;
    }
    return out;
  };
  return { kernelName: tf.Tile, backendName: 'wasm', kernelFunc: kernelFunc };
}
