// Kernels that tfjs-backend-wasm 4.22 lacks or gets wrong but dense/conv/pool/dropout/batch-norm training needs.
// Checked against the cpu backend's list: of the missing ones only Conv2DBackpropFilter is reached by those
// layers' gradients (LogSoftmax and ReluGrad are not kernels in tfjs 4.22 at all: they are composed of other ops;
// UnsortedSegmentSum only backs gather/embedding gradients, Depthwise*Backprop* only depthwise convs).
// MaxPoolGrad exists but is wrong for windows without a positive value (see max-pool-grad.ts): replaced.
import { tf } from '../tf.ts';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.ts';
import { maxPoolGradConfig } from './max-pool-grad.ts';

const wasmKernels: tf.KernelConfig[] = [conv2DBackpropFilterConfig, maxPoolGradConfig];

/** Registers our wasm kernels (replacing the stock one where it is faulty); safe to call more than once. */
export function registerWasmKernels(): void {
  for (const config of wasmKernels) {
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  }
}
