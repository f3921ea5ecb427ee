// Replaces tfjs-backend-wasm 4.22's MaxPoolGrad, which seeds its running max with numeric_limits<float>::min()
// (the smallest POSITIVE float): in any window whose values are all <= 0 the gradient is sent to element 0 of the
// tensor instead of the window's max. That corrupts training whenever max-pooling sees zeros (after relu) or
// negative values. This version runs in JS over views of the wasm heap with the cpu backend's semantics
// (first maximum in scan order wins, padding never wins). Speed: the in-bounds offsets of each window are
// computed once per output position and shared by all channels, so the per-element loop is a load and a compare.
import { tf } from '../tf.ts';

type WasmBackend = {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
};

const kernelFunc = ({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
  const b = backend as WasmBackend;
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;

  const out = b.makeOutput(input.shape, 'float32');
  // Views are taken after the allocation: growing wasm memory detaches older views.
  const x = b.typedArrayFromHeap(input);
  const dyv = b.typedArrayFromHeap(dy);
  const dx = b.typedArrayFromHeap(out);
  dx.fill(0);
  const window = new Int32Array(Math.ceil(fh / dh) * Math.ceil(fw / dw));
  for (let n = 0; n < batchSize; n++) {
    const xBatch = n * inHeight * inWidth * channels;
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        // Offsets (of channel 0) of the window's in-bounds elements, in scan order.
        let size = 0;
        for (let kh = 0; kh < fh; kh += dh) {
          const h = oh * strideHeight - top + kh;
          if (h < 0 || h >= inHeight) continue;
          for (let kw = 0; kw < fw; kw += dw) {
            const w = ow * strideWidth - left + kw;
            if (w >= 0 && w < inWidth) window[size++] = xBatch + (h * inWidth + w) * channels;
          }
        }
        const dyBase = ((n * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          // As the cpu backend: a strict > from -Infinity, so NaN and -Infinity never win.
          let at = -1;
          let best = -Infinity;
          for (let k = 0; k < size; k++) {
            const i = window[k] + c;
            if (x[i] > best) {
              best = x[i];
              at = i;
            }
          }
          if (at >= 0) dx[at] += dyv[dyBase + c];
        }
      }
    }
  }
  return out;
};

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: kernelFunc,
};
