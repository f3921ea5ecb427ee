// MaxPoolGrad on the wasm backend in the native addon (src/native/blas.c maxPoolGrad) where it loaded: the same
// semantics as max-pool-grad.ts (the cpu backend's: first maximum in scan order, padding never wins), whose JS loop
// became the largest kernel of a LeNet-5 training step once the convolutions ran on OpenBLAS (4.8-5.4 of 26 ms CPU).
// Non-float32 inputs go to that JS kernel.
import { tf } from '../tf.ts';
import type { NativeBlas } from './native-blas.ts';

type WasmBackend = {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  getMemoryOffset(dataId: object): number;
  wasm: { HEAPU8: Uint8Array; asm?: { memory?: WebAssembly.Memory } };
};

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];

let calls = 0;
/** How many max-pool gradients this thread has run natively (tests use it to see which path ran). */
export const nativeMaxPoolGradCalls = (): number => calls;

// The parameter block (enum Q in blas.c), reused: the addon reads it synchronously.
const params = new Float64Array(17);

export function nativeMaxPoolGradConfig(blas: NativeBlas, fallback: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    if (dy.dtype !== 'float32' || input.dtype !== 'float32') return fallback.kernelFunc(args);
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
    const backend = args.backend as unknown as WasmBackend;
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    // The addon sizes what it reads from this geometry: a dy of another shape goes to the JS kernel.
    const expectDy = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
    if (dy.shape.length !== 4 || dy.shape.some((v, i) => v !== expectDy[i])) return fallback.kernelFunc(args);
    const out = backend.makeOutput(input.shape, 'float32');
    const off = (t: tf.TensorInfo) => backend.getMemoryOffset(t.dataId);
    params.set([
      info.batchSize,
      info.inHeight,
      info.inWidth,
      info.inChannels,
      info.outHeight,
      info.outWidth,
      info.effectiveFilterHeight,
      info.effectiveFilterWidth,
      info.strideHeight,
      info.strideWidth,
      info.dilationHeight,
      info.dilationWidth,
      info.padInfo.top,
      info.padInfo.left,
      off(input),
      off(dy),
      off(out),
    ]);
    calls++;
    // The heap's buffer as it is now: after the output's allocation.
    blas.addon.maxPoolGrad((backend.wasm.asm?.memory?.buffer ?? backend.wasm.HEAPU8.buffer) as ArrayBuffer, params);
    return out;
  };
  return { kernelName: tf.MaxPoolGrad, backendName: 'wasm', kernelFunc };
}
