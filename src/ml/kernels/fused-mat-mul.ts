// tfjs-backend-wasm 4.22's _FusedMatMul adds its bias wrongly unless the product is plain: measured against the cpu
// backend (relative error 0.2-0.9), a bias with transposeA or transposeB, with batch dimensions, or of size 1 for
// more than one output column. Without a bias, and for the plain product (batch 1) with a bias per column (a dense
// layer's forward pass), it is right. The native kernel (native-mat-mul.ts) handles every case itself; this wrapper is the
// stock kernel both paths keep: the broken cases run as BatchMatMul, then Add (broadcast), then the activation.
import { tf } from '../tf.ts';
import { release, runKernel } from './run-kernel.ts';

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];
type Backend = Parameters<typeof runKernel>[1];

const size = (t: tf.TensorInfo) => t.shape.reduce((n, d) => n * d, 1);

function activate(b: Backend, x: tf.TensorInfo, activation: string, alpha: number, prelu: tf.TensorInfo | undefined): tf.TensorInfo {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return runKernel('Relu', b, { x });
    case 'relu6':
      return runKernel('Relu6', b, { x });
    case 'elu':
      return runKernel('Elu', b, { x });
    case 'sigmoid':
      return runKernel('Sigmoid', b, { x });
    case 'leakyrelu':
      return runKernel('LeakyRelu', b, { x }, { alpha });
    case 'prelu':
      if (!prelu) throw new Error('wasm _FusedMatMul: prelu without preluActivationWeights');
      return runKernel('Prelu', b, { x, alpha: prelu });
    default:
      throw new Error(`wasm _FusedMatMul: activation ${activation} is not supported`);
  }
}

export function fusedMatMulConfig(stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const {
      a,
      b: bIn,
      bias,
      preluActivationWeights,
    } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
    const { transposeA, transposeB, activation = 'linear', leakyreluAlpha = 0.2 } = args.attrs as unknown as tf._FusedMatMulAttrs;
    const columns = transposeB ? bIn.shape[bIn.shape.length - 2] : bIn.shape[bIn.shape.length - 1];
    const batch = (t: tf.TensorInfo) => size(t) / (t.shape[t.shape.length - 2] * t.shape[t.shape.length - 1] || 1);
    const plain = !transposeA && !transposeB && batch(a) <= 1 && batch(bIn) <= 1 && (!bias || size(bias) === columns);
    if (!bias || plain) return stock.kernelFunc(args);
    const b = args.backend as Backend;
    const product = runKernel('BatchMatMul', b, { a, b: bIn }, { transposeA, transposeB });
    const biased = runKernel('Add', b, { a: product, b: bias });
    release(b, product);
    const out = activate(b, biased, activation, leakyreluAlpha, preluActivationWeights);
    if (out !== biased) release(b, biased);
    return out;
  };
  return { ...stock, kernelFunc };
}
