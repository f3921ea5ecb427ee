// Kernels that tfjs-backend-wasm 4.22 lacks or gets wrong but the layers of real models need for training.
// test/unit/ml-kernel-coverage.test.ts enumerates the kernels the forward and backward passes of every supported
// layer class use and checks wasm against cpu, so this list is known to be complete for them:
// - missing, own implementations (speed matters): Conv2DBackpropFilter (every conv layer), Depthwise*Backprop*
//   (DepthwiseConv2D, SeparableConv2D), UnsortedSegmentSum (the gradient of gather: Embedding);
// - wrong: MaxPoolGrad (see max-pool-grad.ts; native-max-pool-grad.ts where the addon loads): replaced; on the cpu
//   backend ResizeNearestNeighborGrad (see resize-nearest-neighbor-grad.ts): replaced there, by registerKernelFixes;
// - slow: BatchMatMul, _FusedMatMul, Conv2D, FusedConv2D and both conv2d gradients run on the system's OpenBLAS where
//   the optional native addon loads (native-blas.ts, native-mat-mul.ts, native-conv.ts; MODELPRESS_NATIVE_BLAS=0
//   turns it off), else BatchMatMul is wrapped and the conv2d gradients are wasm composites;
//   Conv2DBackpropInput, Identity, Reverse and Tile replaced (see their files); the stock Conv2D, FusedConv2D,
//   depthwise convolutions and MaxPool/AvgPool are wrapped for a numeric pad, which made them write past their output
//   (numeric-pad-conv.ts), and _FusedMatMul for a bias with transposes, batches or size 1, which it added wrongly (fused-mat-mul.ts);
//   the fused Adam update is our own kernel (src/ml/fused-adam.ts uses it); training-mode BatchNormalization and the
//   ReLU6 (ClipByValue) gradient are fused wasm kernels (batch-norm-train.ts, which also patches tfjs-layers'
//   BatchNormalization.call);
// - anything else the cpu backend has and a backend lacks runs through the generic cpu fallback (cpu-fallback.ts).
import { tf } from '../tf.ts';
import { adamUpdateConfig } from './adam-update.ts';
import { batchMatMulConfig } from './batch-mat-mul.ts';
import { batchNormTrainConfigs, installBatchNormTraining } from './batch-norm-train.ts';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.ts';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.ts';
import { missingKernelFallbacks } from './cpu-fallback.ts';
import { nativeBlas } from './native-blas.ts';
import { nativeConv2DBackpropFilterConfig, nativeConv2DBackpropInputConfig, nativeConv2DConfig, nativeFusedConv2DConfig } from './native-conv.ts';
import { nativeBatchMatMulConfig, nativeFusedMatMulConfig } from './native-mat-mul.ts';
import { nativeMaxPoolGradConfig } from './native-max-pool-grad.ts';
import { numericPadConvConfig } from './numeric-pad-conv.ts';
import { fusedMatMulConfig } from './fused-mat-mul.ts';
import { depthwiseConv2dBackpropFilterConfig } from './depthwise-conv2d-backprop-filter.ts';
import { depthwiseConv2dBackpropInputConfig } from './depthwise-conv2d-backprop-input.ts';
import { identityConfig } from './identity.ts';
import { maxPoolGradConfig } from './max-pool-grad.ts';
import { resizeNearestNeighborGradCpuConfig } from './resize-nearest-neighbor-grad.ts';
import { reverseConfig } from './reverse.ts';
import { tileConfig } from './tile.ts';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.ts';

let wasmKernels: tf.KernelConfig[] | null = null;

function register(configs: readonly tf.KernelConfig[]): void {
  for (const config of configs) {
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  }
}

/**
 * Registers our wasm kernels (replacing or wrapping stock ones) and cpu fallbacks for whatever else wasm lacks;
 * safe to call more than once. Call it after importing @tensorflow/tfjs-backend-wasm (which registers the stock
 * kernels) and before the backend starts.
 */
export function registerWasmKernels(): void {
  if (!wasmKernels) {
    const stockMatMul = tf.getKernel(tf.BatchMatMul, 'wasm');
    const stockTile = tf.getKernel(tf.Tile, 'wasm');
    const brokenFusedMatMul = tf.getKernel(tf._FusedMatMul, 'wasm');
    const stockConvs = [tf.Conv2D, tf.FusedConv2D, tf.DepthwiseConv2dNative, tf.FusedDepthwiseConv2D, tf.MaxPool, tf.AvgPool].map((name) =>
      tf.getKernel(name, 'wasm'),
    );
    if (!stockMatMul || !stockTile || !brokenFusedMatMul || stockConvs.some((k) => !k))
      throw new Error('@tensorflow/tfjs-backend-wasm must be imported before registerWasmKernels()');
    const stockFusedMatMul = fusedMatMulConfig(brokenFusedMatMul);
    const [stockConv, stockFusedConv, stockDepthwise, stockFusedDepthwise, stockMaxPool, stockAvgPool] = stockConvs.map((k) =>
      numericPadConvConfig(k),
    );
    const blas = nativeBlas();
    const own = [
      ...(blas
        ? [
            nativeConv2DConfig(blas, stockConv),
            nativeFusedConv2DConfig(blas, stockFusedConv),
            nativeConv2DBackpropFilterConfig(blas, conv2DBackpropFilterConfig),
            nativeConv2DBackpropInputConfig(blas, conv2DBackpropInputConfig),
          ]
        : [stockConv, stockFusedConv, conv2DBackpropFilterConfig, conv2DBackpropInputConfig]),
      stockDepthwise,
      stockFusedDepthwise,
      stockMaxPool,
      stockAvgPool,
      depthwiseConv2dBackpropFilterConfig,
      depthwiseConv2dBackpropInputConfig,
      blas ? nativeMaxPoolGradConfig(blas, maxPoolGradConfig) : maxPoolGradConfig,
      unsortedSegmentSumConfig,
      ...(blas
        ? [nativeBatchMatMulConfig(blas, stockMatMul), nativeFusedMatMulConfig(blas, stockFusedMatMul)]
        : [batchMatMulConfig(stockMatMul), stockFusedMatMul]),
      tileConfig(stockTile),
      identityConfig,
      adamUpdateConfig,
      ...batchNormTrainConfigs,
      reverseConfig,
    ];
    wasmKernels = [...own, ...missingKernelFallbacks('wasm', own)];
  }
  register(wasmKernels);
  installBatchNormTraining();
}

/** Registers cpu fallbacks for the kernels `backendName` (e.g. webgpu) lacks; safe to call more than once. */
export function registerFallbackKernels(backendName: string): void {
  register(missingKernelFallbacks(backendName, []));
}

/** Replaces stock kernels of the always-present cpu backend that compute wrong results; safe to call more than once. */
export function registerKernelFixes(): void {
  register([resizeNearestNeighborGradCpuConfig]);
}
