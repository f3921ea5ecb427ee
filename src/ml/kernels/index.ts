// Kernels that tfjs-backend-wasm 4.22 lacks or gets wrong but dense/conv/pool/dropout/batch-norm training needs.
// Checked against the cpu backend's list: of the missing ones only Conv2DBackpropFilter is reached by those
// layers' gradients (LogSoftmax and ReluGrad are not kernels in tfjs 4.22 at all: they are composed of other ops;
// UnsortedSegmentSum only backs gather/embedding gradients, Depthwise*Backprop* only depthwise convs).
// MaxPoolGrad exists but is wrong for windows without a positive value (see max-pool-grad.ts): replaced.
// BatchMatMul is wrapped and Conv2DBackpropInput replaced for speed (see their files).
import { tf } from '../tf.ts';
import { batchMatMulConfig } from './batch-mat-mul.ts';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.ts';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.ts';
import { maxPoolGradConfig } from './max-pool-grad.ts';

let wasmKernels: tf.KernelConfig[] | null = null;

/**
 * Registers our wasm kernels (replacing or wrapping stock ones); safe to call more than once. Call it after
 * importing @tensorflow/tfjs-backend-wasm (which registers the stock kernels) and before the backend starts.
 */
export function registerWasmKernels(): void {
  if (!wasmKernels) {
    const stockMatMul = tf.getKernel(tf.BatchMatMul, 'wasm');
    if (!stockMatMul) throw new Error('@tensorflow/tfjs-backend-wasm must be imported before registerWasmKernels()');
    wasmKernels = [conv2DBackpropFilterConfig, conv2DBackpropInputConfig, maxPoolGradConfig, batchMatMulConfig(stockMatMul)];
  }
  for (const config of wasmKernels) {
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  }
}
