// MaxPool, AveragePool (pads and ceil_mode through padding.ts), GlobalAveragePool / GlobalMaxPool (their
// [N, C, 1, 1] result is kept 4-D as an NHWC [N, 1, 1, C] tensor, so a following Flatten or Conv sees ONNX's shape).
import type { OpContext } from '../context.ts';
import { NHWC, type Dyn } from '../layers.ts';
import { applyPadding, explicitPads, windowOutShape, type PadKind, type Window } from '../padding.ts';

function imageInput(ctx: OpContext): Dyn {
  const x = ctx.dyn(0);
  if (x.shape.length !== 4 || x.shape.slice(1).some((d) => d === null)) ctx.unsupported(`${ctx.node.op} on [${x.shape}] (only static 2-D images)`);
  return ctx.builder.permute(x, NHWC, ctx.name);
}

function pool(className: 'MaxPooling2D' | 'AveragePooling2D') {
  return (ctx: OpContext): void => {
    const x = imageInput(ctx);
    const kernel = ctx.ints('kernel_shape');
    if (!kernel || kernel.length !== 2) ctx.unsupported(`${ctx.node.op} with kernel_shape [${kernel}] (only 2-D)`);
    const strides = ctx.ints('strides') ?? [1, 1];
    const dilations = ctx.ints('dilations') ?? [1, 1];
    if (dilations.some((d) => d !== 1)) ctx.unsupported(`${ctx.node.op} with dilations [${dilations}]`);
    const win: Window = { kernel: [kernel[0], kernel[1]], strides: [strides[0], strides[1]], dilations: [1, 1] };
    const pads = explicitPads(ctx, x, win);
    const ceil = ctx.int('ceil_mode', 0) === 1;
    const outShape = windowOutShape(x, x.shape[1]!, win, pads, ceil);
    // ceil_mode: pad the end so a 'valid' window count reaches the ceil'd output size.
    const extraEnd = [0, 1].map((i) => {
      const length = x.shape[2 + i]! + pads[i] + pads[i + 2];
      return Math.max(0, ((outShape[2 + i] as number) - 1) * win.strides[i] + win.kernel[i] - length);
    }) as [number, number];
    const kind: PadKind = className === 'MaxPooling2D' ? 'max' : ctx.int('count_include_pad', 0) ? 'avg-include' : 'avg-exclude';
    const { x: input, padding } = applyPadding(ctx, x, win, pads, kind, extraEnd);
    const layer = ctx.builder.add(className, ctx.name, { pool_size: win.kernel, strides: win.strides, padding, data_format: 'channels_last' }, [
      input.layer,
    ]);
    ctx.out({ kind: 'dyn', layer, shape: outShape, perm: NHWC, nonNegative: x.nonNegative });
  };
}

export const MaxPool = pool('MaxPooling2D');
export const AveragePool = pool('AveragePooling2D');

function globalPool(className: 'GlobalAveragePooling2D' | 'GlobalMaxPooling2D') {
  return (ctx: OpContext): void => {
    const x = imageInput(ctx);
    const channels = x.shape[1]!;
    const pooled = ctx.builder.add(className, ctx.name, { data_format: 'channels_last' }, [x.layer]);
    const layer = ctx.builder.add('Reshape', `${ctx.name}_4d`, { target_shape: [1, 1, channels] }, [pooled]);
    ctx.out({ kind: 'dyn', layer, shape: [x.shape[0], channels, 1, 1], perm: NHWC, nonNegative: x.nonNegative });
  };
}

export const GlobalAveragePool = globalPool('GlobalAveragePooling2D');
export const GlobalMaxPool = globalPool('GlobalMaxPooling2D');
