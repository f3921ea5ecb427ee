// tfjs-backend-wasm 4.22's Conv2DBackpropInput (dx of conv2d) is a naive loop, ~3x slower than expressing it as a
// forward convolution that XNNPACK runs: dy with (stride-1) zeros inserted between rows/columns, padded by
// (filter-1-padTop) in front, convolved with the filter flipped spatially and in/out channels swapped.
import { tf } from '../tf.ts';
import { release, runKernel } from './run-kernel.ts';

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
  const { batchSize: n, inHeight, inWidth, outHeight, outWidth, outChannels, inChannels, strideHeight: sh, strideWidth: sw } = info;
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
  const top = fh - 1 - info.padInfo.top;
  const left = fw - 1 - info.padInfo.left;
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
