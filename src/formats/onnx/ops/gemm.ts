// Gemm and MatMul with a constant right-hand side → Dense. A Dense fed by a Flatten of an NHWC tensor (kept in HWC
// order, see Dyn.flatFrom) gets its kernel rows reordered from ONNX's CHW order, the native Keras layout.
import { size, transpose } from '../const-math.ts';
import type { H5Array } from '../../keras/h5-file.ts';
import type { OpContext } from '../context.ts';
import { identityPerm, type Dyn } from '../layers.ts';
import { constOf, type Const } from '../proto.ts';

/** Kernel rows in CHW order → HWC order. */
function reorderRows(kernel: Const, [c, h, w]: [number, number, number]): Const {
  const units = kernel.shape[1];
  const out = new Float32Array(kernel.data.length);
  for (let ci = 0; ci < c; ci++)
    for (let hi = 0; hi < h; hi++)
      for (let wi = 0; wi < w; wi++) {
        const from = (ci * h + hi) * w + wi;
        const to = (hi * w + wi) * c + ci;
        out.set(kernel.data.subarray(from * units, (from + 1) * units), to * units);
      }
  return constOf(out, kernel.shape, false);
}

/** Adds a Dense computing x · kernel (+ bias). */
export function denseLayer(ctx: OpContext, x: Dyn, kernel: Const, bias: Float32Array | null): void {
  if (x.shape.length !== 2) ctx.unsupported(`${ctx.node.op} on a rank-${x.shape.length} input (only [batch, features])`);
  if (kernel.shape[0] !== x.shape[1]) ctx.unsupported(`${ctx.node.op} with ${kernel.shape[0]} weight rows for ${x.shape[1]} features`);
  const k = x.flatFrom ? reorderRows(kernel, x.flatFrom) : kernel;
  const units = kernel.shape[1];
  const weights: H5Array[] = [{ shape: k.shape, data: Float32Array.from(k.data) }];
  if (bias) weights.push({ shape: [units], data: bias });
  const layer = ctx.builder.add('Dense', ctx.name, { units, activation: 'linear', use_bias: !!bias }, [x.layer], weights);
  ctx.out({ kind: 'dyn', layer, shape: [x.shape[0], units], perm: identityPerm(2) });
}

export function Gemm(ctx: OpContext): void {
  const x = ctx.dyn(0);
  if (ctx.int('transA', 0)) ctx.unsupported('Gemm with transA=1');
  const b = ctx.constant(1, 'the weight (B)');
  if (b.shape.length !== 2) ctx.unsupported(`Gemm weight of rank ${b.shape.length}`);
  const alpha = ctx.float('alpha', 1);
  const beta = ctx.float('beta', 1);
  let kernel = ctx.int('transB', 0) ? transpose(b, [1, 0]) : b;
  if (alpha !== 1)
    kernel = constOf(
      Float32Array.from(kernel.data, (v) => v * alpha),
      kernel.shape,
      false,
    );
  const units = kernel.shape[1];
  const c = ctx.optConstant(2);
  let bias: Float32Array | null = null;
  if (c) {
    if (size(c.shape) !== units && size(c.shape) !== 1) ctx.unsupported(`Gemm bias of shape [${c.shape}] (only per-unit or scalar)`);
    bias = Float32Array.from({ length: units }, (_, i) => beta * c.data[size(c.shape) === 1 ? 0 : i]);
  }
  denseLayer(ctx, x, kernel, bias);
}

export function MatMul(ctx: OpContext): void {
  const x = ctx.dyn(0);
  const b = ctx.constant(1, 'the right-hand side');
  if (b.shape.length !== 2) ctx.unsupported(`MatMul with a rank-${b.shape.length} right-hand side`);
  denseLayer(ctx, x, b, null);
}
