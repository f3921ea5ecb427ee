// Replaces the cpu backend's ResizeNearestNeighborGrad (the gradient of UpSampling2D), which in tfjs 4.22 reads dy
// at the images' batch offset instead of dy's own: every example after the first gets the wrong gradient
// (found by the kernel-coverage test, where wasm's kernel is right). Same mapping as the forward op: each dy
// pixel goes to its nearest source pixel (floor, or round with alignCorners), scattered with one pass over dy.
import { tf } from '../tf.ts';

type CpuBackend = {
  data: { get(dataId: object): { values: tf.backend_util.TypedArray } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
};

const kernelFunc = ({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
  const b = backend as CpuBackend;
  const { images, dy } = inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
  const { alignCorners } = attrs as unknown as tf.ResizeNearestNeighborGradAttrs;
  const [batch, xHeight, xWidth, depth] = images.shape;
  const [, yHeight, yWidth] = dy.shape;
  const scale = (x: number, y: number) => (alignCorners && y > 1 ? x - 1 : x) / (alignCorners && y > 1 ? y - 1 : y);
  const heightScale = scale(xHeight, yHeight);
  const widthScale = scale(xWidth, yWidth);
  const nearest = (i: number, s: number, size: number) => Math.min(size - 1, alignCorners ? Math.round(i * s) : Math.floor(i * s));
  const dyValues = b.data.get(dy.dataId).values;
  const out = new Float32Array(batch * xHeight * xWidth * depth);
  let src = 0;
  for (let n = 0; n < batch; n++) {
    for (let r = 0; r < yHeight; r++) {
      const row = n * xHeight + nearest(r, heightScale, xHeight);
      for (let c = 0; c < yWidth; c++) {
        const dst = (row * xWidth + nearest(c, widthScale, xWidth)) * depth;
        for (let d = 0; d < depth; d++) out[dst + d] += dyValues[src++];
      }
    }
  }
  return b.makeTensorInfo(images.shape, images.dtype, out);
};

export const resizeNearestNeighborGradCpuConfig: tf.KernelConfig = {
  kernelName: tf.ResizeNearestNeighborGrad,
  backendName: 'cpu',
  kernelFunc: kernelFunc,
};
