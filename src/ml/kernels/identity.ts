// tfjs-backend-wasm 4.22's Identity copies its input into a new buffer. The engine runs Identity for every tensor
// it saves for the backward pass (engine.clone), so a training step copied each layer's activations once more
// (2-3% of a LeNet step). Tensors are immutable, so sharing the buffer under a reference count is equivalent:
// this is what the wasm backend's own Reshape and the cpu backend's Identity do.
import { tf } from '../tf.ts';

type WasmBackend = { incRef(dataId: object): void };

const kernelFunc = ({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  (backend as WasmBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc,
};
