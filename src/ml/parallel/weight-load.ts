// Loading weights from a data-parallel session's shared memory into a thread's tfjs variables (the leader after
// each step, a replica before its next one). A new tensor per variable is the safe way: the wasm backend's stock
// XNNPACK kernels cache their operators, weights packed inside, per weight tensor, so an in-place write would not be
// seen. But where the compiled training step runs (src/ml/train-program.ts) and the native OpenBLAS kernels are
// registered, every kernel that reads these weights (the program's, and the same layers' inference: Dense and
// Conv2D, NHWC, float32, relu/linear) is native and packs nothing; writing into the variable's own heap buffer then
// saves an allocation, a free and the engine's bookkeeping per variable and step (~0.05 ms of a ~1.5 ms
// LeNet-300-100 half-step). Only into a buffer the variable alone holds (refCount 1), never one shared with a
// tensor someone else may still read.
import { nativeBlas } from '../kernels/native-blas.ts';
import { tf } from '../tf.ts';
import type { TrainProgram } from '../train-program.ts';

type HeapBackend = { refCount(dataId: object): number; typedArrayFromHeap(t: tf.TensorInfo): Float32Array };

/** Whether loadVariable may write in place for a training that steps with `program`. */
export function inPlaceWeightsSafe(program: TrainProgram | null | undefined): boolean {
  return program != null && tf.getBackend() === 'wasm' && nativeBlas() !== null;
}

/** `values` into `v` (its size): in place where allowed and the buffer is the variable's alone, else a new tensor. */
export function loadVariable(v: tf.Variable, values: Float32Array, inPlace: boolean): void {
  const backend = tf.backend() as unknown as HeapBackend;
  if (inPlace && v.dtype === 'float32' && backend.refCount(v.dataId) === 1) {
    backend.typedArrayFromHeap(v).set(values);
    return;
  }
  const value = tf.tensor(values, v.shape, 'float32');
  v.assign(value);
  value.dispose();
}
