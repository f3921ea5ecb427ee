// Activations: Relu, Clip(0, 6) = ReLU6, Sigmoid, Tanh, Softmax and LogSoftmax (on the last tfjs axis) fold into
// the Dense/Conv that produced their input when nothing else reads it (the native Keras form), else they become an
// Activation layer; LeakyRelu → LeakyReLU.
import { uniformValue } from '../const-math.ts';
import type { OpContext } from '../context.ts';
import type { Dyn } from '../layers.ts';

const FUSABLE = ['Dense', 'Conv2D', 'DepthwiseConv2D', 'Conv2DTranspose'];

function activate(ctx: OpContext, activation: string, nonNegative: boolean): void {
  const x = ctx.dyn(0);
  const layer = ctx.fusableLayer(0, FUSABLE);
  if (layer && layer.config.activation === 'linear') {
    layer.config.activation = activation;
    ctx.outFused(0, { ...x, nonNegative });
    return;
  }
  const name = ctx.builder.add('Activation', ctx.name, { activation }, [x.layer]);
  ctx.out({ kind: 'dyn', layer: name, shape: x.shape, perm: x.perm, nonNegative });
}

export const Relu = (ctx: OpContext) => activate(ctx, 'relu', true);
export const Sigmoid = (ctx: OpContext) => activate(ctx, 'sigmoid', true);
export const Tanh = (ctx: OpContext) => activate(ctx, 'tanh', false);

function clipBound(ctx: OpContext, attr: string, input: number): number | null {
  if (ctx.opset < 11) {
    const v = ctx.attr(attr);
    return typeof v === 'number' ? v : null;
  }
  if (!ctx.has(input)) return null;
  const v = uniformValue(ctx.constant(input, `Clip's ${attr}`));
  return v;
}

export function Clip(ctx: OpContext): void {
  const lo = clipBound(ctx, 'min', 1);
  const hi = clipBound(ctx, 'max', 2);
  if (lo === 0 && hi === 6) return activate(ctx, 'relu6', true);
  if (lo === 0 && (hi === null || hi >= 3.4e38)) return activate(ctx, 'relu', true);
  ctx.unsupported(`Clip to [${lo ?? '-inf'}, ${hi ?? 'inf'}] (only ReLU [0, inf) and ReLU6 [0, 6])`);
}

export function LeakyRelu(ctx: OpContext): void {
  const x = ctx.dyn(0);
  const layer = ctx.builder.add('LeakyReLU', ctx.name, { alpha: ctx.float('alpha', 0.01) }, [x.layer]);
  ctx.out({ kind: 'dyn', layer, shape: x.shape, perm: x.perm });
}

/** Softmax-like ops act on one axis; it must be the last tfjs axis (opset < 13: flatten from `axis` on, so the rest must be 1s). */
function softmaxAxisOk(ctx: OpContext, x: Dyn): boolean {
  const rank = x.shape.length;
  const raw = ctx.int('axis', ctx.opset < 13 ? 1 : -1);
  const axis = raw < 0 ? raw + rank : raw;
  const lastTfjs = x.perm[rank - 1];
  if (ctx.opset < 13) return axis === lastTfjs && x.shape.slice(axis + 1).every((d) => d === 1);
  return axis === lastTfjs;
}

function softmaxLike(activation: string) {
  return (ctx: OpContext): void => {
    const x = ctx.dyn(0);
    if (!softmaxAxisOk(ctx, x))
      ctx.unsupported(`${ctx.node.op} over axis ${ctx.int('axis', ctx.opset < 13 ? 1 : -1)} of [${x.shape}] (only the channel/feature axis)`);
    activate(ctx, activation, activation === 'softmax');
  };
}

export const Softmax = softmaxLike('softmax');
export const LogSoftmax = softmaxLike('logSoftmax');
