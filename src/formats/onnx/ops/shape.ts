// Shape-changing ops on computed tensors: Flatten, Reshape, Transpose, Concat, Unsqueeze, Squeeze, Pad. The batch
// axis always stays first. A Transpose only relabels axes (no layer); a layer that needs another order gets a Permute.
import { ints, reshape as reshapeConst, size, transpose as transposeConst, concat as concatConst } from '../const-math.ts';
import type { OpContext } from '../context.ts';
import { identityPerm, NHWC, samePerm, type Dyn } from '../layers.ts';

const perExample = (ctx: OpContext, x: Dyn): number[] => {
  const dims = x.shape.slice(1);
  if (dims.some((d) => d === null)) ctx.unsupported(`${ctx.node.op} of [${x.shape}] (dims other than the batch must be static)`);
  return dims as number[];
};

/** Whether every consumer of this node's output is a Dense-able Gemm/MatMul reading it as the left operand. */
function feedsOnlyDense(ctx: OpContext): boolean {
  const out = ctx.node.outputs[0];
  const consumers = ctx.graph.consumersOf(out);
  return (
    consumers.length > 0 &&
    !ctx.graph.isGraphOutput(out) &&
    consumers.every((n) => (n.op === 'Gemm' || n.op === 'MatMul') && n.inputs[0] === out && ctx.graph.constNames.has(n.inputs[1] ?? ''))
  );
}

/** [N, ...] → [N, prod]: the tfjs Flatten of an NHWC tensor is HWC-ordered; kept so when only Dense layers read it. */
function flatten(ctx: OpContext, x: Dyn): void {
  const dims = perExample(ctx, x);
  if (dims.length === 1) return ctx.out(x);
  const features = size(dims);
  const shape = [x.shape[0], features];
  if (!samePerm(x.perm, identityPerm(x.shape.length))) {
    const spatialOnes = x.shape.length === 4 && dims[1] === 1 && dims[2] === 1;
    if (samePerm(x.perm, NHWC) && !spatialOnes && feedsOnlyDense(ctx)) {
      const layer = ctx.builder.add('Flatten', ctx.name, { data_format: 'channels_last' }, [x.layer]);
      return ctx.out({ kind: 'dyn', layer, shape, perm: [0, 1], flatFrom: [dims[0], dims[1], dims[2]], nonNegative: x.nonNegative });
    }
    if (!spatialOnes) x = ctx.builder.permute(x, identityPerm(x.shape.length), ctx.name);
  }
  const layer = ctx.builder.add('Flatten', ctx.name, { data_format: 'channels_last' }, [x.layer]);
  ctx.out({ kind: 'dyn', layer, shape, perm: [0, 1], nonNegative: x.nonNegative });
}

export function Flatten(ctx: OpContext): void {
  const axis = ctx.int('axis', 1);
  if (ctx.allConst()) {
    const c = ctx.constant(0);
    const a = axis < 0 ? axis + c.shape.length : axis;
    return ctx.out(reshapeConst(c, [size(c.shape.slice(0, a)), size(c.shape.slice(a))]));
  }
  if (axis !== 1) ctx.unsupported(`Flatten with axis=${axis} (only 1: keep the batch)`);
  flatten(ctx, ctx.dyn(0));
}

/** Reshape to per-example `dims` in ONNX order; C=1 images go straight to NHWC. */
function reshapeTo(ctx: OpContext, x: Dyn, dims: number[]): void {
  const have = perExample(ctx, x);
  if (samePerm(x.perm, identityPerm(x.shape.length)) && have.length === dims.length && have.every((d, i) => d === dims[i])) return ctx.out(x);
  if (dims.length === 1) return flatten(ctx, x);
  if (!samePerm(x.perm, identityPerm(x.shape.length))) x = ctx.builder.permute(x, identityPerm(x.shape.length), ctx.name);
  const shape = [x.shape[0], ...dims];
  if (dims.length === 3 && dims[0] === 1) {
    // [1, H, W] in CHW order is [H, W, 1] in HWC order: one Reshape gives the NHWC tensor convolutions want.
    const layer = ctx.builder.add('Reshape', ctx.name, { target_shape: [dims[1], dims[2], 1] }, [x.layer]);
    return ctx.out({ kind: 'dyn', layer, shape, perm: NHWC, nonNegative: x.nonNegative });
  }
  const layer = ctx.builder.add('Reshape', ctx.name, { target_shape: dims }, [x.layer]);
  ctx.out({ kind: 'dyn', layer, shape, perm: identityPerm(shape.length), nonNegative: x.nonNegative });
}

export function Reshape(ctx: OpContext): void {
  const target = ctx.opset < 5 ? ctx.ints('shape') : ints(ctx.constant(1, 'the target shape'));
  if (!target) ctx.unsupported('Reshape without a shape');
  if (ctx.allConst()) {
    const c = ctx.constant(0);
    const dims = target.map((d, i) => (d === 0 ? c.shape[i] : d));
    const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    return ctx.out(
      reshapeConst(
        c,
        dims.map((d) => (d === -1 ? c.data.length / known : d)),
      ),
    );
  }
  const x = ctx.dyn(0);
  const allowZero = ctx.int('allowzero', 0) === 1;
  const first = target[0];
  const isBatch = first === -1 || (first === 0 && !allowZero) || (ctx.staticBatch !== null && first === ctx.staticBatch);
  if (!isBatch) ctx.unsupported(`Reshape to [${target}] (the first dim must stay the batch)`);
  const have = perExample(ctx, x);
  const dims = target.slice(1).map((d, i) => (d === 0 && !allowZero ? have[i] : d));
  const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  if (dims.filter((d) => d === -1).length > 1) ctx.unsupported(`Reshape to [${target}] with more than one inferred dim`);
  const resolved = dims.map((d) => (d === -1 ? size(have) / known : d));
  if (size(resolved) !== size(have)) ctx.unsupported(`Reshape of [${x.shape}] to [${target}] changes the per-example size`);
  reshapeTo(ctx, x, resolved);
}

export function Transpose(ctx: OpContext): void {
  const rank = ctx.value(0).shape.length;
  const q = ctx.ints('perm') ?? identityPerm(rank).reverse();
  if (ctx.allConst()) return ctx.out(transposeConst(ctx.constant(0), q));
  const x = ctx.dyn(0);
  if (q[0] !== 0) ctx.unsupported(`Transpose with perm [${q}] (moves the batch axis)`);
  if (x.flatFrom) ctx.unsupported('Transpose of a flattened image');
  // Out axis i = in axis q[i]; tfjs axis k held in axis perm[k], which is now out axis qinv[perm[k]].
  const qinv = new Array<number>(rank);
  q.forEach((v, i) => (qinv[v] = i));
  ctx.out({ ...x, shape: q.map((a) => x.shape[a]), perm: x.perm.map((p) => qinv[p]) });
}

export function Concat(ctx: OpContext): void {
  const n = ctx.node.inputs.length;
  const axisRaw = ctx.int('axis', 0);
  if (ctx.allConst())
    return ctx.out(
      concatConst(
        Array.from({ length: n }, (_, i) => ctx.constant(i)),
        axisRaw,
      ),
    );
  const parts = Array.from({ length: n }, (_, i) => ctx.dyn(i));
  const first = parts[0];
  const rank = first.shape.length;
  const axis = axisRaw < 0 ? axisRaw + rank : axisRaw;
  if (axis === 0) ctx.unsupported('Concat along the batch axis');
  const aligned = parts.map((p, i) => (i === 0 ? p : ctx.builder.permute(p, first.perm, `${ctx.name}_in${i}`)));
  const layer = ctx.builder.add(
    'Concatenate',
    ctx.name,
    { axis: first.perm.indexOf(axis) },
    aligned.map((p) => p.layer),
  );
  const shape = [...first.shape];
  shape[axis] = parts.reduce((s, p) => (s === null || p.shape[axis] === null ? null : s + p.shape[axis]), 0 as number | null);
  ctx.out({ kind: 'dyn', layer, shape, perm: first.perm, nonNegative: parts.every((p) => p.nonNegative) });
}

function axesOf(ctx: OpContext): number[] | null {
  if (ctx.opset >= 13) return ctx.has(1) ? ints(ctx.constant(1, 'the axes')) : null;
  return ctx.ints('axes');
}

export function Unsqueeze(ctx: OpContext): void {
  const v = ctx.value(0);
  const axes = axesOf(ctx);
  if (!axes) ctx.unsupported('Unsqueeze without axes');
  const rank = v.shape.length + axes.length;
  const norm = axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  const shape: (number | null)[] = [...v.shape];
  for (const a of norm) shape.splice(a, 0, 1);
  if (v.kind === 'const') return ctx.out(reshapeConst(v, shape as number[]));
  if (norm.includes(0)) ctx.unsupported('Unsqueeze at the batch axis');
  reshapeTo(ctx, v, perExample(ctx, { ...v, shape }));
}

export function Squeeze(ctx: OpContext): void {
  const v = ctx.value(0);
  const axes = axesOf(ctx);
  const rank = v.shape.length;
  const norm = (axes ?? v.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((a) => (a < 0 ? a + rank : a));
  const shape = v.shape.filter((_, i) => !norm.includes(i));
  if (v.kind === 'const') return ctx.out(reshapeConst(v, shape as number[]));
  if (norm.includes(0)) ctx.unsupported('Squeeze of the batch axis');
  reshapeTo(ctx, v, perExample(ctx, { ...v, shape }));
}

export function Pad(ctx: OpContext): void {
  const mode = ctx.string('mode', 'constant');
  if (mode !== 'constant') ctx.unsupported(`Pad in ${mode} mode (only constant zeros)`);
  const pads = ctx.opset < 11 ? ctx.ints('pads') : ints(ctx.constant(1, 'the pads'));
  const value = ctx.opset < 11 ? ctx.float('value', 0) : ctx.has(2) ? ctx.constant(2, 'the pad value').data[0] : 0;
  if (!pads || value !== 0) ctx.unsupported(`Pad with value ${value} (only zeros)`);
  let x = ctx.dyn(0);
  if (x.shape.length !== 4 || pads.length !== 8) ctx.unsupported(`Pad of a rank-${x.shape.length} tensor (only images)`);
  const [nb, cb, t, l, ne, ce, b, r] = pads;
  if (nb || cb || ne || ce) ctx.unsupported('Pad of the batch or channel axis');
  x = ctx.builder.permute(x, NHWC, ctx.name);
  const padding = [
    [t, b],
    [l, r],
  ];
  const layer = ctx.builder.add('ZeroPadding2D', ctx.name, { padding, data_format: 'channels_last' }, [x.layer]);
  const shape = [x.shape[0], x.shape[1], (x.shape[2] as number) + t + b, (x.shape[3] as number) + l + r];
  ctx.out({ kind: 'dyn', layer, shape, perm: NHWC, nonNegative: x.nonNegative });
}
