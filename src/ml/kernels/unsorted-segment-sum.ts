// UnsortedSegmentSum, missing from tfjs-backend-wasm 4.22, is the gradient of gather: every Embedding layer (and so
// every text model) needs it to train. out[segmentIds[i], ...] += x[i, ...], a scatter-add over heap views.
import { tf } from '../tf.ts';

type WasmBackend = {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
};

const kernelFunc = ({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
  const b = backend as WasmBackend;
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const ids = segmentIds.shape.reduce((a, d) => a * d, 1);
  const inner = x.shape.slice(segmentIds.shape.length).reduce((a, d) => a * d, 1);
  const out = b.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  // Views after the allocation: growing wasm memory detaches older views.
  const xv = b.typedArrayFromHeap(x);
  const seg = b.typedArrayFromHeap(segmentIds);
  const ov = b.typedArrayFromHeap(out);
  ov.fill(0);
  for (let i = 0; i < ids; i++) {
    const s = seg[i];
    if (s < 0 || s >= numSegments) continue; // TF drops out-of-range ids
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) ov[dst + j] += xv[src + j];
  }
  return out;
};

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: kernelFunc,
};
