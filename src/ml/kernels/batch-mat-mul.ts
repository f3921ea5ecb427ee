// tfjs-backend-wasm 4.22's BatchMatMul is 3-5x slower with transposeA/transposeB (the backward pass of every
// dense layer uses them: dW = xᵀ·dy, dx = dy·Wᵀ) than an explicit Transpose followed by the plain product.
// This wrapper does exactly that and delegates to the stock kernel (whose setup it keeps).
import { tf } from '../tf.ts';
import { release, runKernel } from './run-kernel.ts';

type Backend = Parameters<typeof runKernel>[1];

function swapLastTwo(backend: Backend, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return runKernel('Transpose', backend, { x }, { perm });
}

export function batchMatMulConfig(stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = ({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
    const b = backend as Backend;
    const { a, b: bIn } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    if (!transposeA && !transposeB) return stock.kernelFunc({ inputs, backend: b, attrs });
    const a2 = transposeA ? swapLastTwo(b, a) : a;
    const b2 = transposeB ? swapLastTwo(b, bIn) : bIn;
    const out = stock.kernelFunc({
      inputs: { a: a2, b: b2 },
      backend: b,
      attrs: { ...attrs, transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    if (transposeA) release(b, a2);
    if (transposeB) release(b, b2);
    return out;
  };
  return { kernelName: tf.BatchMatMul, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc: kernelFunc };
}
