// DepthwiseConv2dNativeBackpropInput (dx of a depthwise conv), missing from tfjs-backend-wasm 4.22: without it no
// model with a DepthwiseConv2D or SeparableConv2D below its first layer can train. Expressed as a forward
// depthwise convolution (XNNPACK) like conv2d-backprop-input.ts: dy with (stride-1) zeros inserted, padded by
// (effective filter - 1 - padTop) in front, convolved with the spatially flipped filter; with a channel multiplier
// m every dy channel c·m+k gets its own 1-wide filter and the m results per input channel are summed.
import { tf } from '../tf.ts';
import { release, runKernel } from './run-kernel.ts';

const pair = (v: number | [number, number] | undefined): [number, number] => (v === undefined ? [1, 1] : typeof v === 'number' ? [v, v] : v);

const kernelFunc = ({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
  const b = backend as Parameters<typeof runKernel>[1];
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const [dh, dw] = pair(dilations);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    [dh, dw],
    pad,
    dimRoundingMode,
    true,
  );
  const { batchSize: n, inHeight, inWidth, inChannels: c, outHeight, outWidth, outChannels, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: efh, effectiveFilterWidth: efw, filterHeight: fh, filterWidth: fw } = info;
  const m = outChannels / c;
  const temps: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo) => (temps.push(t), t);

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
  // [fh, fw, C, m] flipped → [fh, fw, C·m, 1]: one filter per dy channel, in dy's channel order c·m+k.
  const flipped = keep(runKernel('Reverse', b, { x: filter }, { dims: [0, 1] }));
  const perChannel = keep(runKernel('Reshape', b, { x: flipped }, { shape: [fh, fw, outChannels, 1] }));
  const top = efh - 1 - info.padInfo.top;
  const left = efw - 1 - info.padInfo.left;
  const bottom = Math.max(0, inHeight + efh - 1 - top - up.shape[1]);
  const right = Math.max(0, inWidth + efw - 1 - left - up.shape[2]);
  let dx = runKernel(
    'DepthwiseConv2dNative',
    b,
    { x: up, filter: perChannel },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ] as unknown as tf.NamedAttrMap[string],
      dilations: [dh, dw],
    },
  );
  if (dx.shape[1] !== inHeight || dx.shape[2] !== inWidth) {
    const full = keep(dx);
    dx = runKernel('Slice', b, { x: full }, { begin: [0, 0, 0, 0], size: [n, inHeight, inWidth, outChannels] });
  }
  if (m > 1) {
    const split = keep(runKernel('Reshape', b, { x: keep(dx) }, { shape: [n, inHeight, inWidth, c, m] }));
    dx = runKernel('Sum', b, { x: split }, { axis: [4], keepDims: false });
  }
  release(b, ...temps);
  return dx;
};

export const depthwiseConv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: kernelFunc,
};
