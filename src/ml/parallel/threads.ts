// How many threads a data-parallel training actually uses: only the wasm backend has replicas (a GPU or native
// backend already parallelises inside its kernels), and every thread needs a slice of at least MIN_SLICE_ROWS
// rows of each batch (smaller slices cost more in synchronisation than they save).
import { tf } from '../tf.ts';

export const MIN_SLICE_ROWS = 8;

export function effectiveThreads(requested: number, batchSize: number): number {
  if (!(requested > 1) || tf.getBackend() !== 'wasm') return 1;
  return Math.max(1, Math.min(Math.floor(requested), Math.floor(batchSize / MIN_SLICE_ROWS)));
}
