// Conv2D, FusedConv2D and both conv2d gradients on the wasm backend through the native OpenBLAS addon
// (native-blas.ts; src/native/blas.c's conv): im2col + sgemm in row chunks that stay in cache, NHWC, on the wasm heap.
// The gradients were composites of wasm kernels (conv2d-backprop-filter.ts: transposes around a dilated Conv2D whose
// "filter" is dy, conv2d-backprop-input.ts: a zero-inserted, padded dy convolved with the flipped filter), which
// XNNPACK runs slowly at those shapes; here the filter gradient is Σ im2col(x)ᵀ·dy and the input gradient
// col2im(dy·wᵀ). NCHW, non-float32 inputs, a prelu activation or another bias shape go to the kernel this replaces.
import { tf } from '../tf.ts';
import { NATIVE_ACTIVATIONS, nativeBiasFits, type NativeBlas } from './native-blas.ts';

type WasmBackend = {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  getMemoryOffset(dataId: object): number;
  wasm: { HEAPU8: Uint8Array; asm?: { memory?: WebAssembly.Memory } };
};

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];
type Shape4 = [number, number, number, number];

const Mode = { forward: 0, filterGrad: 1, inputGrad: 2 } as const;

const convCalls = [0, 0, 0];
/** How many convolutions (of one mode: 0 forward, 1 filter gradient, 2 input gradient) this thread has run natively. */
export const nativeConvCalls = (mode?: number): number => (mode === undefined ? convCalls[0] + convCalls[1] + convCalls[2] : convCalls[mode]);

// The parameter block (enum P in blas.c), reused: the addon reads it synchronously.
const params = new Float64Array(22);

interface Operands {
  x: tf.TensorInfo;
  w: tf.TensorInfo;
  y: tf.TensorInfo;
  bias?: tf.TensorInfo;
  activation?: number;
  alpha?: number;
}

function run(blas: NativeBlas, backend: WasmBackend, mode: number, info: tf.backend_util.Conv2DInfo, o: Operands): void {
  const off = (t: tf.TensorInfo) => backend.getMemoryOffset(t.dataId);
  params.set([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
    off(o.x),
    off(o.w),
    off(o.y),
    o.bias ? off(o.bias) : -1,
    o.bias ? o.bias.shape.reduce((n, s) => n * s, 1) : 0,
    o.activation ?? 0,
    o.alpha ?? 0,
  ]);
  convCalls[mode]++;
  // The heap's buffer as it is now: after the output's allocation.
  blas.addon.conv((backend.wasm.asm?.memory?.buffer ?? backend.wasm.HEAPU8.buffer) as ArrayBuffer, mode, params);
}

const channelsLast = (dataFormat: string | undefined) => dataFormat === undefined || dataFormat === 'NHWC';

function forwardInfo(args: KernelArgs): tf.backend_util.Conv2DInfo | null {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, pad, dilations, dimRoundingMode } = args.attrs as unknown as tf.Conv2DAttrs;
  if (x.shape.length !== 4 || filter.shape.length !== 4) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filter.shape as Shape4,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  return consistent(info, x.shape, filter.shape, info.outShape) ? info : null;
}

function forward(
  blas: NativeBlas,
  args: KernelArgs,
  info: tf.backend_util.Conv2DInfo,
  bias: tf.TensorInfo | undefined,
  activation: number,
  alpha: number,
): tf.TensorInfo {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const backend = args.backend as unknown as WasmBackend;
  const out = backend.makeOutput(info.outShape, 'float32');
  run(blas, backend, Mode.forward, info, { x, w: filter, y: out, bias, activation, alpha });
  return out;
}

const float32 = (...ts: (tf.TensorInfo | undefined)[]) => ts.every((t) => !t || t.dtype === 'float32');

/**
 * The operand shapes agree with the geometry the addon will use: it trusts them to size what it reads and writes,
 * so a mismatched direct kernel call goes to the replaced kernel (and its own error) instead of past a buffer.
 */
function consistent(info: tf.backend_util.Conv2DInfo, x: readonly number[], filter: readonly number[], y: readonly number[]): boolean {
  const expectX = [info.batchSize, info.inHeight, info.inWidth, info.inChannels];
  const expectF = [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels];
  const expectY = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  const same = (a: readonly number[], b: number[]) => a.length === 4 && a.every((v, i) => v === b[i]);
  return same(x, expectX) && same(filter, expectF) && same(y, expectY);
}

/** Conv2D natively (NHWC float32); `stock` otherwise. */
export function nativeConv2DConfig(blas: NativeBlas, stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const { dataFormat } = args.attrs as unknown as tf.Conv2DAttrs;
    const info = channelsLast(dataFormat) && float32(x, filter) ? forwardInfo(args) : null;
    return info ? forward(blas, args, info, undefined, 0, 0) : stock.kernelFunc(args);
  };
  return { kernelName: tf.Conv2D, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}

/** FusedConv2D natively (bias of size 1 or Cout, every activation but prelu); `stock` otherwise. */
export function nativeFusedConv2DConfig(blas: NativeBlas, stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as {
      x: tf.TensorInfo;
      filter: tf.TensorInfo;
      bias?: tf.TensorInfo;
      preluActivationWeights?: tf.TensorInfo;
    };
    const { dataFormat, activation = 'linear', leakyreluAlpha } = args.attrs as unknown as tf.FusedConv2DAttrs;
    const code = NATIVE_ACTIVATIONS.get(activation);
    const cout = filter.shape[3];
    const biasOk = nativeBiasFits(bias, cout);
    if (!channelsLast(dataFormat) || !float32(x, filter, bias) || code === undefined || preluActivationWeights || !biasOk)
      return stock.kernelFunc(args);
    const info = forwardInfo(args);
    return info ? forward(blas, args, info, bias, code, leakyreluAlpha ?? 0) : stock.kernelFunc(args);
  };
  return { kernelName: tf.FusedConv2D, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}

/** Conv2DBackpropFilter natively (NHWC float32); `fallback` (our wasm composite) otherwise. */
export function nativeConv2DBackpropFilterConfig(blas: NativeBlas, fallback: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    if (!channelsLast(dataFormat) || !float32(x, dy) || x.shape.length !== 4 || filterShape.length !== 4) return fallback.kernelFunc(args);
    const backend = args.backend as unknown as WasmBackend;
    const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    if (!consistent(info, x.shape, filterShape, dy.shape)) return fallback.kernelFunc(args);
    const dw = backend.makeOutput(filterShape, 'float32');
    run(blas, backend, Mode.filterGrad, info, { x, w: dw, y: dy });
    return dw;
  };
  return { kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc };
}

/** Conv2DBackpropInput natively (NHWC float32); `fallback` (our wasm composite) otherwise. */
export function nativeConv2DBackpropInputConfig(blas: NativeBlas, fallback: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    if (!channelsLast(dataFormat) || !float32(dy, filter) || inputShape.length !== 4 || filter.shape.length !== 4) return fallback.kernelFunc(args);
    const backend = args.backend as unknown as WasmBackend;
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    if (!consistent(info, inputShape, filter.shape, dy.shape)) return fallback.kernelFunc(args);
    const dx = backend.makeOutput(inputShape, 'float32');
    run(blas, backend, Mode.inputGrad, info, { x: dx, w: filter, y: dy });
    return dx;
  };
  return { kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', kernelFunc };
}
