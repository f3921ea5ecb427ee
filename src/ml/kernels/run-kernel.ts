// Composite wasm kernels call other wasm kernels directly (as tfjs backends do internally), so nothing they
// create is tracked by the engine or recorded on a gradient tape; intermediates are released with disposeData.
import { tf } from '../tf.ts';

type Backend = { disposeData(dataId: object): boolean };

export function runKernel(name: string, backend: Backend, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm kernel ${name} is not registered`);
  return kernel.kernelFunc({ inputs, attrs, backend: backend }) as tf.TensorInfo;
}

export function release(backend: Backend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}
