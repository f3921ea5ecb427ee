// Reading tensor values on the host without a copy where the backend allows it. On wasm a float32 tensor's
// values live in the module's heap: a Float32Array view on it costs nothing (valid until the next allocation may
// grow the heap — take views after allocating). Elsewhere the values are read back (a copy; on a GPU a sync).
import { tf } from './tf.ts';

type HeapBackend = { typedArrayFromHeap(t: tf.TensorInfo): Float32Array; dataIdMap: { has(id: object): boolean } };

/** The float32 values of `t`: a heap view on wasm, else a read-back copy. */
export function hostFloats(t: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as Partial<HeapBackend>;
  if (t.dtype === 'float32' && backend.typedArrayFromHeap && backend.dataIdMap?.has(t.dataId)) return backend.typedArrayFromHeap(t);
  return t.dataSync() as Float32Array;
}

/** True when the active backend keeps tensor data in host memory (reading a scalar back is as cheap as any op). */
export function dataOnHost(): boolean {
  const name = tf.getBackend();
  return name === 'wasm' || name === 'cpu';
}

/** Rows of the one-hot `y` ([rows, classes]) whose arg-max in `pred` (first maximum wins, as tf.argMax) matches. */
export function countCorrect(pred: Float32Array, y: Float32Array, rows: number, classes: number): number {
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    let best = base;
    let label = base;
    for (let c = base + 1; c < base + classes; c++) {
      if (pred[c] > pred[best]) best = c;
      if (y[c] > y[label]) label = c;
    }
    if (best === label) correct++;
  }
  return correct;
}
