// Conv (group 1 → Conv2D; group = channels → DepthwiseConv2D) and ConvTranspose → Conv2DTranspose. ONNX weights
// are OIHW (ConvTranspose: IOHW); Keras kernels are HWIO (depthwise: HW·C·multiplier, transposed: HW·O·I).
import { size, transpose } from '../const-math.ts';
import type { OpContext } from '../context.ts';
import { NHWC, type Dyn } from '../layers.ts';
import { applyPadding, explicitPads, windowOutShape, type Window } from '../padding.ts';
import type { Const } from '../proto.ts';

const arr = (c: Const) => ({ shape: c.shape, data: c.data instanceof Float32Array ? c.data : Float32Array.from(c.data) });

function window(ctx: OpContext, kernel: number[]): Window {
  const strides = ctx.ints('strides') ?? [1, 1];
  const dilations = ctx.ints('dilations') ?? [1, 1];
  return { kernel: [kernel[0], kernel[1]], strides: [strides[0], strides[1]], dilations: [dilations[0], dilations[1]] };
}

function imageInput(ctx: OpContext): Dyn {
  const x = ctx.dyn(0);
  if (x.shape.length !== 4) ctx.unsupported(`${ctx.node.op} on a rank-${x.shape.length} input (only 2-D convolutions)`);
  if (x.shape.slice(1).some((d) => d === null)) ctx.unsupported(`${ctx.node.op} on an input without a static shape`);
  return ctx.builder.permute(x, NHWC, ctx.name);
}

export function Conv(ctx: OpContext): void {
  const x = imageInput(ctx);
  const w = ctx.constant(1, 'the weight');
  const bias = ctx.optConstant(2);
  if (w.shape.length !== 4) ctx.unsupported(`Conv weight of rank ${w.shape.length}`);
  const [outChannels, inPerGroup, kh, kw] = w.shape;
  const channels = x.shape[1]!;
  const group = ctx.int('group', 1);
  const win = window(ctx, [kh, kw]);
  const pads = explicitPads(ctx, x, win);
  const outShape = windowOutShape(x, outChannels, win, pads);
  const { x: input, padding } = applyPadding(ctx, x, win, pads, 'conv');
  const common = {
    kernel_size: [kh, kw],
    strides: win.strides,
    dilation_rate: win.dilations,
    padding,
    data_format: 'channels_last',
    activation: 'linear',
  };
  const biasArrays = bias ? [arr(bias)] : [];
  let layer: string;
  if (group === 1) {
    layer = ctx.builder.add(
      'Conv2D',
      ctx.name,
      { ...common, filters: outChannels, use_bias: !!bias },
      [input.layer],
      [arr(transpose(w, [2, 3, 1, 0])), ...biasArrays],
    );
  } else if (group === channels && inPerGroup === 1 && outChannels % channels === 0) {
    const multiplier = outChannels / channels;
    // ONNX output channel c·m + j reads input channel c; Keras depthwise kernel [h, w, c, j].
    const kernel = new Float32Array(size(w.shape));
    for (let c = 0; c < channels; c++)
      for (let j = 0; j < multiplier; j++)
        for (let h = 0; h < kh; h++)
          for (let v = 0; v < kw; v++) kernel[((h * kw + v) * channels + c) * multiplier + j] = w.data[((c * multiplier + j) * kh + h) * kw + v];
    layer = ctx.builder.add(
      'DepthwiseConv2D',
      ctx.name,
      { ...common, depth_multiplier: multiplier, use_bias: !!bias },
      [input.layer],
      [{ shape: [kh, kw, channels, multiplier], data: kernel }, ...biasArrays],
    );
  } else {
    ctx.unsupported(`Conv with group=${group} on ${channels} channels (grouped convolution; only group 1 and depthwise are supported)`);
  }
  ctx.out({ kind: 'dyn', layer, shape: outShape, perm: NHWC });
}

export function ConvTranspose(ctx: OpContext): void {
  const x = imageInput(ctx);
  const w = ctx.constant(1, 'the weight');
  const bias = ctx.optConstant(2);
  if (w.shape.length !== 4) ctx.unsupported(`ConvTranspose weight of rank ${w.shape.length}`);
  if (ctx.int('group', 1) !== 1) ctx.unsupported(`ConvTranspose with group=${ctx.int('group', 1)}`);
  if (ctx.ints('output_shape')) ctx.unsupported('ConvTranspose with an explicit output_shape');
  const [, outChannels, kh, kw] = w.shape;
  const win = window(ctx, [kh, kw]);
  const [t, l, b, r] = ctx.ints('pads') ?? [0, 0, 0, 0];
  const [oph, opw] = ctx.ints('output_padding') ?? [0, 0];
  if (ctx.string('auto_pad', 'NOTSET') !== 'NOTSET') ctx.unsupported('ConvTranspose with auto_pad');
  // Keras 'valid' gives (in-1)·s + d·(k-1) + 1; ONNX then removes pads and adds output_padding at the end.
  const full = (n: number, i: 0 | 1) => (n - 1) * win.strides[i] + win.dilations[i] * ((i === 0 ? kh : kw) - 1) + 1;
  const h = x.shape[2]!;
  const wd = x.shape[3]!;
  const cropEnd = [b - oph, r - opw];
  if (cropEnd[0] < 0 || cropEnd[1] < 0) ctx.unsupported('ConvTranspose whose output_padding exceeds its end pads');
  let layer = ctx.builder.add(
    'Conv2DTranspose',
    ctx.name,
    {
      filters: outChannels,
      kernel_size: [kh, kw],
      strides: win.strides,
      dilation_rate: win.dilations,
      padding: 'valid',
      data_format: 'channels_last',
      activation: 'linear',
      use_bias: !!bias,
    },
    [x.layer],
    [arr(transpose(w, [2, 3, 1, 0])), ...(bias ? [arr(bias)] : [])],
  );
  if (t || l || cropEnd[0] || cropEnd[1]) {
    layer = ctx.builder.add(
      'Cropping2D',
      `${ctx.name}_crop`,
      {
        cropping: [
          [t, cropEnd[0]],
          [l, cropEnd[1]],
        ],
        data_format: 'channels_last',
      },
      [layer],
    );
  }
  const outShape = [x.shape[0], outChannels, full(h, 0) - t - cropEnd[0], full(wd, 1) - l - cropEnd[1]];
  ctx.out({ kind: 'dyn', layer, shape: outShape, perm: NHWC });
}
