// tfjs-backend-wasm 4.22's Conv2DBackpropInput (dx of conv2d) is a naive loop, ~3x slower than expressing it as a
// forward convolution that XNNPACK runs: dy with (stride-1) zeros inserted between rows/columns, padded by
// (filter-1-padTop) in front, convolved with the filter flipped spatially and in/out channels swapped.
// Its geometry is dy's own shape, checked against the convolution's (a mismatch throws instead of running the wasm
// kernels past a buffer); a pad wider than the filter (numeric pads allow it) crops dy's leading rows/columns.
import { tf } from '../tf.ts';
import { release, runKernel } from './run-kernel.ts';

/** dy of a conv2d gradient must have the shape the forward convolution gave: a clear error, not a wasm abort. */
export function checkDyShape(kernel: string, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): void {
  const want = info.outShape;
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new Error(
      `wasm ${kernel}: dy has shape [${dy.shape.join(',')}] but a convolution of input [${info.batchSize},${info.inHeight},${info.inWidth},${info.inChannels}] ` +
        `with filter [${info.filterHeight},${info.filterWidth},${info.inChannels},${info.outChannels}], strides [${info.strideHeight},${info.strideWidth}] ` +
        `and padding ${JSON.stringify(info.padInfo)} gives [${want.join(',')}]`,
    );
  }
}

const kernelFunc = ({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
  const b = backend as Parameters<typeof runKernel>[1];
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropInput: NCHW is not supported');
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  checkDyShape('Conv2DBackpropInput', dy, info);
  if (filter.shape[0] !== info.filterHeight || filter.shape[1] !== info.filterWidth || filter.shape[2] !== inputShape[3]) {
    throw new Error(`wasm Conv2DBackpropInput: filter [${filter.shape.join(',')}] does not fit input [${inputShape.join(',')}]`);
  }
  const [n, outHeight, outWidth, outChannels] = dy.shape;
  const { inHeight, inWidth, inChannels, strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: fh, filterWidth: fw } = info;
  const temps: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo) => (temps.push(t), t);

  // Insert zeros: [n,oH,oW,c] → [n,oH,1,oW,1,c] → pad → [n,oH·sh,oW·sw,c] (trailing zeros are harmless).
  let up = dy;
  if (sh > 1 || sw > 1) {
    const r6 = keep(runKernel('Reshape', b, { x: dy }, { shape: [n, outHeight, 1, outWidth, 1, outChannels] }));
    const padded = keep(
      runKernel(
        'PadV2',
        b,
        { x: r6 },
        {
          paddings: [
            [0, 0],
            [0, 0],
            [0, sh - 1],
            [0, 0],
            [0, sw - 1],
            [0, 0],
          ],
          constantValue: 0,
        },
      ),
    );
    up = keep(runKernel('Reshape', b, { x: padded }, { shape: [n, outHeight * sh, outWidth * sw, outChannels] }));
  }
  const flipped = keep(runKernel('Reverse', b, { x: filter }, { dims: [0, 1] }));
  const swapped = keep(runKernel('Transpose', b, { x: flipped }, { perm: [0, 1, 3, 2] }));
  let top = fh - 1 - info.padInfo.top;
  let left = fw - 1 - info.padInfo.left;
  if (top < 0 || left < 0) {
    // A negative pad is a crop: those rows/columns of the zero-inserted dy reach no input position.
    const [, h, w, c] = up.shape;
    const cropTop = Math.min(h, Math.max(0, -top));
    const cropLeft = Math.min(w, Math.max(0, -left));
    up = keep(runKernel('Slice', b, { x: up }, { begin: [0, cropTop, cropLeft, 0], size: [n, h - cropTop, w - cropLeft, c] }));
    top = Math.max(0, top);
    left = Math.max(0, left);
  }
  const bottom = Math.max(0, inHeight + fh - 1 - top - up.shape[1]);
  const right = Math.max(0, inWidth + fw - 1 - left - up.shape[2]);
  let dx = runKernel(
    'Conv2D',
    b,
    { x: up, filter: swapped },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ] as unknown as tf.NamedAttrMap[string],
      dataFormat: 'NHWC',
      dilations: [1, 1],
    },
  );
  if (dx.shape[1] !== inHeight || dx.shape[2] !== inWidth) {
    const full = keep(dx);
    dx = runKernel('Slice', b, { x: full }, { begin: [0, 0, 0, 0], size: [n, inHeight, inWidth, inChannels] });
  }
  release(b, ...temps);
  return dx;
};

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: kernelFunc,
};
