// Training-mode BatchNormalization as two fused wasm kernels (forward and gradient) instead of tfjs's composite:
// tfjs-layers normalises a training batch with tf.moments (Cast, Mean, Sub, Square, Mean) and FusedBatchNorm, and
// the gradient of that chain is ~25 elementwise kernels (Multiply, Sum, Mean, Sub, Tile, RealDiv, …) per layer —
// 27% of a resnet-20 training step on wasm, plus the engine's bookkeeping for each of them. Here:
// - ModelpressBatchNormTrain: x [..., C], scale, offset [C] → y, batch mean, (biased) batch variance [C], in three
//   passes over x (float64 sums, two-pass variance);
// - ModelpressBatchNormTrainGrad: dy, x, mean, variance, scale (+ the gradients of the mean and variance outputs,
//   zeros unless something differentiable uses them) → dx, dscale, doffset in two passes:
//   dx = k1·dy + k2·(x − mean) + k3 per channel, with k1 = γ·r, k2 = −γ·r³·Σdy(x−μ)/N + 2·dvar/N,
//   k3 = (dmean − k1·Σdy)/N, r = 1/√(var + ε); dscale = r·Σdy(x−μ), doffset = Σdy.
// installBatchNormTraining() makes tfjs-layers' BatchNormalization use them on the wasm backend in training mode
// (channel-last axis, center and scale on, float32 input; anything else takes tfjs's own path); the moving
// mean/variance updates are tfjs-layers' own (moving = moving − (moving − batch)·(1 − momentum)).
// The ClipByValue gradient (ReLU6 / ReLU(maxValue): GreaterEqual, LessEqual, LogicalAnd, ZerosLike, Select — 14% of a
// mobilenet-v2 step) becomes one kernel, ModelpressClipByValueGrad, on wasm.
import { tf } from '../tf.ts';
import { channelSimd, type ChannelSimd } from './channel-simd.ts';

export const BN_TRAIN = 'ModelpressBatchNormTrain';
export const BN_TRAIN_GRAD = 'ModelpressBatchNormTrainGrad';
export const CLIP_GRAD = 'ModelpressClipByValueGrad';

type WasmBackend = {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
  /** The emscripten module; its exports hold the heap's WebAssembly.Memory. */
  wasm?: { asm?: { memory?: WebAssembly.Memory } };
};

/** Rows per SIMD call whose float32 per-channel sums are then added up in float64 (bounds the rounding). */
const BLOCK_ROWS = 256;

/** The SIMD functions when C is a multiple of 4 and wasm SIMD is there, else null (the JS loops). */
function simdFor(b: WasmBackend, c: number): ChannelSimd | null {
  return c % 4 === 0 ? channelSimd(b.wasm?.asm?.memory) : null;
}

/**
 * Σ over row blocks of `run(firstRow, rows)`, which adds per-channel float32 sums into `acc` (a heap view, zeroed
 * before each block); the block sums are added up in float64 into `out`.
 */
function blockSums(rows: number, acc: Float32Array, out: Float64Array, run: (r0: number, nb: number) => void): void {
  for (let r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
    acc.fill(0);
    run(r0, Math.min(BLOCK_ROWS, rows - r0));
    for (let k = 0; k < acc.length; k++) out[k] += acc[k];
  }
}
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const channelsOf = (x: tf.TensorInfo) => x.shape[x.shape.length - 1];

function bnTrain({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const b = backend as WasmBackend;
  const { x, scale, offset } = inputs as { x: tf.TensorInfo; scale: tf.TensorInfo; offset: tf.TensorInfo };
  const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
  const c = channelsOf(x);
  const simd = simdFor(b, c);
  const outs = [b.makeOutput(x.shape, 'float32'), b.makeOutput([c], 'float32'), b.makeOutput([c], 'float32')];
  // scratch (SIMD): acc | mean | mul | add, per channel.
  const scratch = simd ? b.makeOutput([4 * c], 'float32') : null;
  try {
    // Views after the allocations: growing wasm memory detaches older views.
    const [xv, gv, bv, yv, mv, vv] = [x, scale, offset, ...outs].map((t) => b.typedArrayFromHeap(t));
    const n = xv.length / c;
    if (n === 0) return outs;
    const sum = new Float64Array(c);
    const mean = new Float64Array(c);
    const mul = new Float64Array(c);
    const add = new Float64Array(c);
    const finish = () => {
      for (let k = 0; k < c; k++) {
        const variance = sum[k] / n;
        mv[k] = mean[k];
        vv[k] = variance;
        mul[k] = gv[k] / Math.sqrt(variance + eps);
        add[k] = bv[k] - mean[k] * mul[k];
      }
    };
    if (simd && scratch) {
      const sv = b.typedArrayFromHeap(scratch);
      const [acc, meanF, mulF, addF] = [0, 1, 2, 3].map((i) => sv.subarray(i * c, (i + 1) * c));
      const cb = 4 * c;
      const x0 = xv.byteOffset;
      blockSums(n, acc, sum, (r0, nb) => simd.colsum(x0 + r0 * cb, nb, cb, acc.byteOffset));
      for (let k = 0; k < c; k++) meanF[k] = mean[k] = sum[k] / n;
      sum.fill(0);
      blockSums(n, acc, sum, (r0, nb) => simd.colsqdiff(x0 + r0 * cb, nb, cb, acc.byteOffset, meanF.byteOffset));
      finish();
      mulF.set(mul);
      addF.set(add);
      simd.affine(x0, n, cb, yv.byteOffset, mulF.byteOffset, addF.byteOffset);
      return outs;
    }
    const size = xv.length;
    for (let i = 0; i < size; i += c) for (let k = 0; k < c; k++) sum[k] += xv[i + k];
    for (let k = 0; k < c; k++) mean[k] = sum[k] / n;
    sum.fill(0);
    for (let i = 0; i < size; i += c) {
      for (let k = 0; k < c; k++) {
        const d = xv[i + k] - mean[k];
        sum[k] += d * d;
      }
    }
    finish();
    for (let i = 0; i < size; i += c) for (let k = 0; k < c; k++) yv[i + k] = xv[i + k] * mul[k] + add[k];
    return outs;
  } finally {
    if (scratch) b.disposeData(scratch.dataId, true);
  }
}

function bnTrainGrad({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const b = backend as WasmBackend;
  const names = ['dy', 'x', 'mean', 'variance', 'scale', 'dmean', 'dvariance'] as const;
  const infos = names.map((k) => (inputs as Record<string, tf.TensorInfo>)[k]);
  const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
  const x = infos[1];
  const c = channelsOf(x);
  const simd = simdFor(b, c);
  const outs = [b.makeOutput(x.shape, 'float32'), b.makeOutput([c], 'float32'), b.makeOutput([c], 'float32')];
  // scratch (SIMD): accA | accB | k1 | k2 | k3, per channel.
  const scratch = simd ? b.makeOutput([5 * c], 'float32') : null;
  try {
    const [dyv, xv, mv, vv, gv, dmv, dvv, dxv, dgv, dbv] = [...infos, ...outs].map((t) => b.typedArrayFromHeap(t));
    const size = xv.length;
    const n = size / c;
    const sumDy = new Float64Array(c);
    const sumDyX = new Float64Array(c);
    const k1 = new Float64Array(c);
    const k2 = new Float64Array(c);
    const k3 = new Float64Array(c);
    // dx = k1·dy + k2·x + k3 (k3 has −k2·mean folded in).
    const coefficients = () => {
      for (let k = 0; k < c; k++) {
        const r = 1 / Math.sqrt(vv[k] + eps);
        k1[k] = gv[k] * r;
        k2[k] = (-gv[k] * r * r * r * sumDyX[k] + 2 * dvv[k]) / n;
        k3[k] = (dmv[k] - k1[k] * sumDy[k]) / n - k2[k] * mv[k];
        dgv[k] = r * sumDyX[k];
        dbv[k] = sumDy[k];
      }
    };
    if (n === 0) return outs;
    if (simd && scratch) {
      const sv = b.typedArrayFromHeap(scratch);
      const [accA, accB, k1F, k2F, k3F] = [0, 1, 2, 3, 4].map((i) => sv.subarray(i * c, (i + 1) * c));
      const cb = 4 * c;
      for (let r0 = 0; r0 < n; r0 += BLOCK_ROWS) {
        accA.fill(0);
        accB.fill(0);
        const nb = Math.min(BLOCK_ROWS, n - r0);
        simd.colsum2(dyv.byteOffset + r0 * cb, nb, cb, accA.byteOffset, xv.byteOffset + r0 * cb, mv.byteOffset, accB.byteOffset);
        for (let k = 0; k < c; k++) {
          sumDy[k] += accA[k];
          sumDyX[k] += accB[k];
        }
      }
      coefficients();
      k1F.set(k1);
      k2F.set(k2);
      k3F.set(k3);
      simd.affine2(dyv.byteOffset, n, cb, dxv.byteOffset, xv.byteOffset, k1F.byteOffset, k2F.byteOffset, k3F.byteOffset);
      return outs;
    }
    for (let i = 0; i < size; i += c) {
      for (let k = 0; k < c; k++) {
        const dy = dyv[i + k];
        sumDy[k] += dy;
        sumDyX[k] += dy * (xv[i + k] - mv[k]);
      }
    }
    coefficients();
    for (let i = 0; i < size; i += c) for (let k = 0; k < c; k++) dxv[i + k] = k1[k] * dyv[i + k] + k2[k] * xv[i + k] + k3[k];
    return outs;
  } finally {
    if (scratch) b.disposeData(scratch.dataId, true);
  }
}

function clipGrad({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackend;
  const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const { clipValueMin: lo, clipValueMax: hi } = attrs as { clipValueMin: number; clipValueMax: number };
  const out = b.makeOutput(x.shape, 'float32');
  const [dyv, xv, ov] = [dy, x, out].map((t) => b.typedArrayFromHeap(t));
  const simd = simdFor(b, 4);
  const n4 = simd ? xv.length & ~3 : 0;
  if (simd && n4 > 0) simd.clipgrad(dyv.byteOffset, 1, n4 * 4, ov.byteOffset, xv.byteOffset, lo, hi);
  for (let i = n4; i < xv.length; i++) {
    const v = xv[i];
    ov[i] = v >= lo && v <= hi ? dyv[i] : 0;
  }
  return out;
}

export const batchNormTrainConfigs: tf.KernelConfig[] = [
  { kernelName: BN_TRAIN, backendName: 'wasm', kernelFunc: bnTrain },
  { kernelName: BN_TRAIN_GRAD, backendName: 'wasm', kernelFunc: bnTrainGrad },
  { kernelName: CLIP_GRAD, backendName: 'wasm', kernelFunc: clipGrad },
];

const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap) => tf.engine().runKernel(name, inputs, attrs);

let installed = false;

/**
 * Registers the gradient of ModelpressBatchNormTrain, the wasm ClipByValue gradient, and patches tfjs-layers'
 * BatchNormalization.call to use the fused kernels in training mode on wasm. Idempotent.
 */
export function installBatchNormTraining(): void {
  if (installed) return;
  installed = true;
  tf.registerGradient({
    kernelName: BN_TRAIN,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dmean, dvariance] = dys as tf.Tensor[];
      const [x, scale, mean, variance] = saved;
      // One kernel for all three: run here, not in the thunks (the tape runs each thunk in its own tidy, which would
      // dispose the two outputs that thunk does not return).
      const [dx, dscale, doffset] = run(BN_TRAIN_GRAD, { dy, x, mean, variance, scale, dmean, dvariance }, attrs) as tf.Tensor[];
      return { x: () => dx, scale: () => dscale, offset: () => doffset };
    },
  });

  const stockClip = tf.getGradient(tf.ClipByValue);
  if (stockClip) {
    tf.registerGradient({
      ...stockClip,
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved;
        if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || (dy as tf.Tensor).dtype !== 'float32') return stockClip.gradFunc(dy, saved, attrs);
        return { x: () => run(CLIP_GRAD, { dy: dy as tf.Tensor, x }, attrs) as tf.Tensor };
      },
    });
  }

  type BN = tf.layers.Layer & {
    axis: number;
    center: boolean;
    scale: boolean;
    epsilon: number;
    momentum: number;
    gamma: tf.LayerVariable;
    beta: tf.LayerVariable;
    movingMean: tf.LayerVariable;
    movingVariance: tf.LayerVariable;
  };
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as {
    call: (inputs: unknown, kwargs: tf.serialization.ConfigDict) => unknown;
  };
  const stockCall = proto.call;
  proto.call = function (this: BN, inputs: unknown, kwargs: tf.serialization.ConfigDict) {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? (inputs[0] as tf.Tensor) : null) : (inputs as tf.Tensor);
    const fused =
      kwargs?.training === true &&
      x !== null &&
      x.dtype === 'float32' &&
      x.rank >= 2 &&
      (this.axis === -1 || this.axis === x.rank - 1) &&
      this.center &&
      this.scale &&
      tf.getBackend() === 'wasm';
    if (!fused) return stockCall.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const [y, mean, variance] = run(
        BN_TRAIN,
        { x, scale: this.gamma.read(), offset: this.beta.read() },
        { varianceEpsilon: this.epsilon },
      ) as tf.Tensor[];
      // tfjs-layers' own moving-average update.
      for (const [variable, value] of [
        [this.movingMean, mean],
        [this.movingVariance, variance],
      ] as const) {
        tf.tidy(() => {
          const orig = variable.read();
          variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), 1 - this.momentum)));
        });
      }
      return y;
    });
  };
}
