// Constants and what static shape chains compute from them (Constant, Shape, Gather, Cast, Slice,
// ConstantOfShape), ops that pass a tensor through (Identity, Dropout, Cast to float), and Slice as an image crop.
import { gather, ints, sliceConst, size } from '../const-math.ts';
import type { OpContext } from '../context.ts';
import { NHWC } from '../layers.ts';
import { constOf, DataType, type Const } from '../proto.ts';

export function Constant(ctx: OpContext): void {
  const value = ctx.attr('value');
  if (value && typeof value === 'object' && !Array.isArray(value)) return ctx.out(value);
  const f = ctx.attr('value_float');
  if (typeof f === 'number') return ctx.out(constOf(Float32Array.of(f), [], false));
  const fs = ctx.attr('value_floats');
  if (Array.isArray(fs)) return ctx.out(constOf(Float32Array.from(fs), [fs.length], false));
  const i = ctx.attr('value_int');
  if (typeof i === 'number') return ctx.out(constOf(Float64Array.of(i), [], true));
  const is = ctx.ints('value_ints');
  if (is) return ctx.out(constOf(Float64Array.from(is), [is.length], true));
  ctx.unsupported('Constant without a numeric value');
}

/** The static shape of a tensor; a free batch reads as the declared static batch, else -1 (what Reshape infers). */
export function Shape(ctx: OpContext): void {
  const v = ctx.value(0);
  const dims = v.shape.map((d, i) => (d === null ? (i === 0 ? (ctx.staticBatch ?? -1) : null) : d));
  if (dims.some((d) => d === null)) ctx.unsupported(`Shape of [${v.shape}] (not static)`);
  const start = ctx.int('start', 0);
  const end = ctx.int('end', dims.length);
  const all = constOf(Float64Array.from(dims as number[]), [dims.length], true);
  ctx.out(start === 0 && end === dims.length ? all : sliceConst(all, [start], [end], [0], [1]));
}

export function Gather(ctx: OpContext): void {
  if (!ctx.allConst()) ctx.unsupported('Gather from a computed tensor (only static shape arithmetic)');
  ctx.out(gather(ctx.constant(0), ctx.constant(1), ctx.int('axis', 0)));
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16]);

export function Cast(ctx: OpContext): void {
  const to = ctx.int('to', DataType.FLOAT) as (typeof DataType)[keyof typeof DataType];
  const v = ctx.value(0);
  if (v.kind === 'const') {
    const float = FLOAT_TYPES.has(to);
    return ctx.out(constOf(float ? Float32Array.from(v.data) : Float64Array.from(v.data, Math.trunc), v.shape, !float));
  }
  if (to !== DataType.FLOAT) ctx.unsupported(`Cast of a computed tensor to ${DataType[to] ?? to}`);
  ctx.out(v);
}

export function Slice(ctx: OpContext): void {
  const list = (attr: string, input: number): number[] | null =>
    ctx.opset < 10 ? ctx.ints(attr) : ctx.has(input) ? ints(ctx.constant(input)) : null;
  const starts = list('starts', 1);
  const ends = list('ends', 2);
  if (!starts || !ends) ctx.unsupported('Slice without starts/ends');
  const axes = list('axes', 3) ?? starts.map((_, i) => i);
  const steps = (ctx.opset < 10 ? null : list('steps', 4)) ?? starts.map(() => 1);
  if (ctx.value(0).kind === 'dyn') return cropImage(ctx, starts, ends, axes, steps);
  ctx.out(sliceConst(ctx.constant(0), starts, ends, axes, steps));
}

/** A Slice of an image's height/width with static bounds and step 1 (e.g. our own export of Cropping2D): Cropping2D. */
function cropImage(ctx: OpContext, starts: number[], ends: number[], axes: number[], steps: number[]): void {
  let x = ctx.dyn(0);
  if (x.shape.length !== 4 || steps.some((s) => s !== 1))
    ctx.unsupported('Slice of a computed tensor (only image crops and static shape arithmetic)');
  const crop = [
    [0, 0],
    [0, 0],
  ];
  for (let i = 0; i < axes.length; i++) {
    const axis = axes[i] < 0 ? axes[i] + 4 : axes[i];
    const dim = x.shape[axis];
    if (axis < 2 || dim === null) ctx.unsupported('Slice of the batch or channel axis of a computed tensor');
    const clamp = (v: number) => Math.min(dim, Math.max(0, v < 0 ? v + dim : v));
    crop[axis - 2] = [clamp(starts[i]), dim - clamp(ends[i])];
  }
  x = ctx.builder.permute(x, NHWC, ctx.name);
  const layer = ctx.builder.add('Cropping2D', ctx.name, { cropping: crop, data_format: 'channels_last' }, [x.layer]);
  const shape = [x.shape[0], x.shape[1], (x.shape[2] as number) - crop[0][0] - crop[0][1], (x.shape[3] as number) - crop[1][0] - crop[1][1]];
  ctx.out({ kind: 'dyn', layer, shape, perm: NHWC, nonNegative: x.nonNegative });
}

export function ConstantOfShape(ctx: OpContext): void {
  const shape = ints(ctx.constant(0, 'the shape'));
  const value = ctx.attr('value') as Const | undefined;
  const fill = value?.data[0] ?? 0;
  const int = value?.int ?? false;
  const data = int ? new Float64Array(size(shape)).fill(fill) : new Float32Array(size(shape)).fill(fill);
  ctx.out(constOf(data, shape, int));
}

export function Identity(ctx: OpContext): void {
  ctx.out(ctx.value(0));
}

export function Dropout(ctx: OpContext): void {
  const v = ctx.value(0);
  if (v.kind === 'const') return ctx.out(v);
  if (ctx.node.outputs[1] && ctx.graph.consumersOf(ctx.node.outputs[1]).length > 0) ctx.unsupported('Dropout whose mask output is used');
  const rate = ctx.opset < 12 ? ctx.float('ratio', 0.5) : ctx.has(1) ? ctx.constant(1, 'the ratio').data[0] : 0.5;
  const layer = ctx.builder.add('Dropout', ctx.name, { rate }, [v.layer]);
  ctx.out({ ...v, layer, flatFrom: v.flatFrom });
}
