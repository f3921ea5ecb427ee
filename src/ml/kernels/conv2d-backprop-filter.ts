// Conv2DBackpropFilter (the weight gradient of conv2d) is missing from tfjs-backend-wasm 4.22, so conv layers
// cannot train there. dW[i,j,ci,co] = Σ_{n,oh,ow} x[n, oh·s + i - padTop, ow·s + j - padLeft, ci] · dy[n,oh,ow,co]
// is itself a convolution: batch ↔ channels swapped (x as [Cin,H,W,N]), dy as the filter ([oH,oW,N,Cout]),
// stride 1 and dilation = the forward stride. Result [Cin,fh',fw',Cout] → slice to the filter size → [fh,fw,Cin,Cout].
import { tf } from '../tf.ts';
import { checkDyShape } from './conv2d-backprop-input.ts';
import { release, runKernel } from './run-kernel.ts';

const kernelFunc = ({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
  const b = backend as Parameters<typeof runKernel>[1];
  const { x, dy } = inputs as tf.Conv2DBackpropFilterInputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const channelsLast = dataFormat !== 'NCHW';
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    channelsLast ? 'channelsLast' : 'channelsFirst',
  );
  // dy's shape is the geometry: checked here, so a mismatch throws instead of running the wasm kernels past a buffer.
  checkDyShape('Conv2DBackpropFilter', dy, info);
  // An empty batch (or output) contributes nothing: a zero gradient (the swapped convolution would have no channels).
  if (x.shape.some((d) => d === 0) || dy.shape.some((d) => d === 0))
    return runKernel('Fill', b, {}, { shape: filterShape, value: 0, dtype: 'float32' });
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, inHeight, inWidth, outHeight, outWidth } = info;
  const { top, left } = info.padInfo;
  // Pad bottom/right just enough that the swapped conv yields at least fh×fw outputs.
  const bottom = Math.max(0, fh + (outHeight - 1) * sh - inHeight - top);
  const right = Math.max(0, fw + (outWidth - 1) * sw - inWidth - left);

  const xT = runKernel('Transpose', b, { x }, { perm: channelsLast ? [3, 1, 2, 0] : [1, 2, 3, 0] });
  const dyT = runKernel('Transpose', b, { x: dy }, { perm: channelsLast ? [1, 2, 0, 3] : [2, 3, 0, 1] });
  const conv = runKernel(
    'Conv2D',
    b,
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ] as unknown as tf.NamedAttrMap[string],
      dataFormat: 'NHWC',
      dilations: [sh, sw],
    },
  );
  release(b, xT, dyT);
  let cropped = conv;
  if (conv.shape[1] !== fh || conv.shape[2] !== fw) {
    cropped = runKernel('Slice', b, { x: conv }, { begin: [0, 0, 0, 0], size: [info.inChannels, fh, fw, info.outChannels] });
    release(b, conv);
  }
  const dw = runKernel('Transpose', b, { x: cropped }, { perm: [1, 2, 0, 3] });
  release(b, cropped);
  return dw;
};

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: kernelFunc,
};
