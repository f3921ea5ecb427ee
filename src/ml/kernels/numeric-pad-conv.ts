// Stock tfjs-backend-wasm 4.22 Conv2D, FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2D, MaxPool and AvgPool
// with a numeric `pad` write past their output. tfjs-core's computeConv2DInfo sizes a numeric pad's output with
// computeOutputShape2D, which uses the filter's height and the stride's height for both dimensions (and truncates),
// and the kernel allocates that shape; XNNPACK then computes its own output size from the real filter width and
// stride and writes that many columns. With a non-square filter or unequal strides the two disagree: x [2,9,8,5],
// filter [3,4,5,3], strides [3,2], pad 1 (or 0) is allocated [2,3,3,3] and written as [2,3,4,3]. The overflow
// corrupts the wasm heap, and the module aborts later ('memory access out of bounds' in malloc/free). Every tfjs
// backend defines the output as that allocated shape (the cpu backend computes exactly those positions), so here a
// numeric pad becomes explicit pads that make XNNPACK's size equal it (top/left = pad, bottom/right just enough),
// and a larger result is cropped to it. String and explicit pads go to the stock kernel unchanged.
import { tf } from '../tf.ts';
import { release, runKernel } from './run-kernel.ts';

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];
type Shape4 = [number, number, number, number];
type WasmBackend = Parameters<typeof runKernel>[1] & { makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo };

const DEPTHWISE = new Set<string>([tf.DepthwiseConv2dNative, tf.FusedDepthwiseConv2D]);
/** MaxPool and AvgPool size their output with computePool2DInfo, which has the same quirk. */
const POOLS = new Set<string>([tf.MaxPool, tf.AvgPool]);

/** `stock` with a numeric pad turned into the explicit pads that give tfjs's output shape (see above). */
export function numericPadConvConfig(stock: tf.KernelConfig): tf.KernelConfig {
  const depthwise = DEPTHWISE.has(stock.kernelName);
  const pool = POOLS.has(stock.kernelName);
  const kernelFunc = (args: KernelArgs) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter?: tf.TensorInfo };
    const attrs = args.attrs as unknown as {
      pad: unknown;
      strides: number | [number, number];
      dilations?: number | [number, number];
      dataFormat?: string;
      filterSize?: number | [number, number];
    };
    const { pad, filterSize } = attrs;
    if (
      typeof pad !== 'number' ||
      (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') ||
      x.shape.length !== 4 ||
      (pool ? filterSize === undefined : filter?.shape.length !== 4)
    )
      return stock.kernelFunc(args);
    const info =
      pool && filterSize !== undefined
        ? tf.backend_util.computePool2DInfo(x.shape as Shape4, filterSize, attrs.strides, 1, pad)
        : tf.backend_util.computeConv2DInfo(
            x.shape as Shape4,
            filter!.shape as Shape4,
            attrs.strides,
            attrs.dilations ?? 1,
            pad,
            undefined,
            depthwise,
            'channelsLast',
          );
    const { outShape, outHeight, outWidth, strideHeight: sh, strideWidth: sw, inHeight, inWidth } = info;
    const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
    const backend = args.backend as unknown as WasmBackend;
    if (outShape.some((d) => d <= 0))
      return backend.makeOutput(
        outShape.map((d) => Math.max(0, d)),
        'float32',
      );
    const bottom = Math.max(0, (outHeight - 1) * sh + fh - inHeight - pad);
    const right = Math.max(0, (outWidth - 1) * sw + fw - inWidth - pad);
    const explicit = [
      [0, 0],
      [pad, bottom],
      [pad, right],
      [0, 0],
    ];
    const out = stock.kernelFunc({
      ...args,
      attrs: { ...args.attrs, pad: explicit as unknown as tf.NamedAttrMap[string], dimRoundingMode: undefined as unknown as tf.NamedAttrMap[string] },
    }) as tf.TensorInfo;
    if (out.shape[1] === outHeight && out.shape[2] === outWidth) return out;
    const cropped = runKernel('Slice', backend, { x: out }, { begin: [0, 0, 0, 0], size: outShape });
    release(backend, out);
    return cropped;
  };
  return { ...stock, kernelFunc };
}
