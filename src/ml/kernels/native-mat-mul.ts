// BatchMatMul and _FusedMatMul on the wasm backend through the native OpenBLAS GEMM (native-blas.ts), where it loaded:
// 4-9× faster than the wasm kernels on a dense layer's products (128×784·784×300: 2.8 → 0.64 ms; the transposed
// products of the backward pass 4.7-6.0 → 0.63-0.68 ms), and no XNNPACK re-packing of freshly updated weights.
// The operands are read and the result written in place on the wasm heap (byte offsets into its current
// ArrayBuffer, taken after the output's allocation: growing wasm memory replaces the buffer). Transposes are GEMM
// flags, batch dimensions broadcast (a batch of 1 repeats by stride 0, anything else per batch item); _FusedMatMul's
// bias (size 1 or N) and activation (all but prelu) are applied by the addon right after each GEMM. Whatever else
// (non-float32 inputs, a prelu activation, another bias shape) goes to the stock kernel.
import { tf } from '../tf.ts';
import { NATIVE_ACTIVATIONS, nativeBiasFits, type NativeBlas } from './native-blas.ts';

type WasmBackend = {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  getMemoryOffset(dataId: object): number;
  wasm: { HEAPU8: Uint8Array; asm?: { memory?: WebAssembly.Memory } };
};

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];

let gemmCalls = 0;
/** How many products this thread has run natively (tests use it to see which path ran). */
export const nativeGemmCalls = (): number => gemmCalls;

const size = (shape: readonly number[]) => shape.reduce((n, s) => n * s, 1);

/** Row-major strides of `shape` (in batch items), 0 where a dimension of 1 broadcasts against `outer`. */
function broadcastStrides(shape: readonly number[], outer: readonly number[]): number[] {
  const padded = [...Array<number>(outer.length - shape.length).fill(1), ...shape];
  const strides = Array<number>(outer.length).fill(0);
  let step = 1;
  for (let d = outer.length - 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 ? 0 : step;
    step *= padded[d];
  }
  return strides;
}

interface Product {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  bias?: tf.TensorInfo;
  activation: number;
  alpha: number;
}

/** C = op(A)·op(B) (+ bias, activation) over the broadcast batch dimensions; the output tensor, on the heap. */
function product(blas: NativeBlas, backend: WasmBackend, p: Product): tf.TensorInfo {
  const { a, b, transposeA, transposeB } = p;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const out = backend.makeOutput([...outer, m, n], 'float32');
  const batch = size(outer);
  if (batch * m * n === 0) return out;
  // Offsets after the output's allocation, and the heap's buffer as it is now.
  const heap = (backend.wasm.asm?.memory?.buffer ?? backend.wasm.HEAPU8.buffer) as ArrayBuffer;
  const aOff = backend.getMemoryOffset(a.dataId);
  const bOff = backend.getMemoryOffset(b.dataId);
  const cOff = backend.getMemoryOffset(out.dataId);
  const biasOff = p.bias ? backend.getMemoryOffset(p.bias.dataId) : -1;
  const biasLen = p.bias ? size(p.bias.shape) : 0;
  const batchA = size(outerA);
  const batchB = size(outerB);
  const gemm = (count: number, aAt: number, aStride: number, bAt: number, bStride: number, cAt: number) =>
    blas.addon.gemm(heap, count, +transposeA, +transposeB, m, n, k, aAt, aStride, bAt, bStride, cAt, m * n, biasOff, biasLen, p.activation, p.alpha);
  gemmCalls++;
  if ((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1)) {
    gemm(batch, aOff, batchA === 1 ? 0 : m * k, bOff, batchB === 1 ? 0 : k * n, cOff);
    return out;
  }
  // General broadcasting (e.g. [2,1]×[1,3] batch dimensions): one GEMM per output batch item.
  const sa = broadcastStrides(outerA, outer);
  const sb = broadcastStrides(outerB, outer);
  const index = Array<number>(outer.length).fill(0);
  for (let i = 0; i < batch; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < outer.length; d++) {
      ia += index[d] * sa[d];
      ib += index[d] * sb[d];
    }
    gemm(1, aOff + 4 * ia * m * k, 0, bOff + 4 * ib * k * n, 0, cOff + 4 * i * m * n);
    for (let d = outer.length - 1; d >= 0 && ++index[d] === outer[d]; d--) index[d] = 0;
  }
  return out;
}

/** BatchMatMul natively; `stock` (the backend's kernel, or our wasm wrapper of it) for non-float32 inputs. */
export function nativeBatchMatMulConfig(blas: NativeBlas, stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock.kernelFunc(args);
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    return product(blas, args.backend as unknown as WasmBackend, { a, b, transposeA, transposeB, activation: 0, alpha: 0 });
  };
  return { kernelName: tf.BatchMatMul, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}

/** _FusedMatMul natively (bias of size 1 or N, every activation but prelu); `stock` for anything else. */
export function nativeFusedMatMulConfig(blas: NativeBlas, stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as {
      a: tf.TensorInfo;
      b: tf.TensorInfo;
      bias?: tf.TensorInfo;
      preluActivationWeights?: tf.TensorInfo;
    };
    const { transposeA, transposeB, activation = 'linear', leakyreluAlpha } = args.attrs as unknown as tf._FusedMatMulAttrs;
    const code = NATIVE_ACTIVATIONS.get(activation);
    const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    const biasOk = !bias || (bias.dtype === 'float32' && nativeBiasFits(bias, n));
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || code === undefined || preluActivationWeights || !biasOk) return stock.kernelFunc(args);
    const backend = args.backend as unknown as WasmBackend;
    return product(blas, backend, { a, b, transposeA, transposeB, bias, activation: code, alpha: leakyreluAlpha ?? 0 });
  };
  return { kernelName: tf._FusedMatMul, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}
