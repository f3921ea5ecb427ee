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

/**
 * Rows of the one-hot `y` whose arg-max in `pred` ([rows, classes]; first maximum wins, as tf.argMax) matches. `y`'s
 * rows are `yRow` wide (default `classes`): the one-hot labels are its first `classes` columns, and anything after
 * them travels with the labels (distillation's cached teacher logits) without counting here.
 */
export function countCorrect(pred: Float32Array, y: Float32Array, rows: number, classes: number, yRow = classes): number {
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const yBase = r * yRow;
    let best = 0;
    let label = 0;
    for (let c = 1; c < classes; c++) {
      if (pred[base + c] > pred[base + best]) best = c;
      if (y[yBase + c] > y[yBase + label]) label = c;
    }
    if (best === label) correct++;
  }
  return correct;
}
