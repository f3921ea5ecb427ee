// Add, Sub, Mul, Div. Constants are folded. Two computed tensors of one shape → Add / Subtract / Multiply layers.
// A computed tensor with a constant is an affine map y = x·scale + offset, per channel or scalar, which goes (in
// order of preference) into the bias and kernel of the Dense/Conv that produced x, into a Rescaling layer (scalars),
// or into a 1×1 DepthwiseConv2D (per-channel on images). Other broadcasts are unsupported.
import { tf } from '../../../ml/tf.ts';
import type { H5Array } from '../../keras/h5-file.ts';
import { broadcastShape, elementwise, size, uniformValue } from '../const-math.ts';
import type { OpContext } from '../context.ts';
import { NHWC, type Dyn } from '../layers.ts';
import type { Const } from '../proto.ts';

type Op = 'Add' | 'Sub' | 'Mul' | 'Div';
const FOLD: Record<Op, (x: number, y: number) => number> = { Add: (x, y) => x + y, Sub: (x, y) => x - y, Mul: (x, y) => x * y, Div: (x, y) => x / y };
const MERGE_LAYER: Record<Op, string | null> = { Add: 'Add', Sub: 'Subtract', Mul: 'Multiply', Div: null };

/** Per-channel (or scalar) values of a constant broadcast against x: null when it varies along another axis. */
function channelVector(c: Const, x: Dyn): Float32Array | null {
  const u = uniformValue(c);
  const rank = x.shape.length;
  if (u !== null && c.shape.length <= rank) return Float32Array.of(u);
  const channelAxis = rank === 4 ? 1 : rank === 2 ? 1 : -1;
  if (channelAxis < 0 || c.shape.length > rank) return null;
  // Right-aligned (numpy) broadcast: the constant's dims line up with x's last dims.
  const aligned = [...new Array<number>(rank - c.shape.length).fill(1), ...c.shape];
  const ok = aligned.every((d, i) => (i === channelAxis ? d === x.shape[channelAxis] || d === 1 : d === 1));
  return ok ? Float32Array.from(c.data) : null;
}

const at = (v: Float32Array, i: number) => (v.length === 1 ? v[0] : v[i]);

/** Folds y = x·scale + offset into the layer that produced x; false when that layer cannot take it. */
function foldIntoLayer(ctx: OpContext, x: Dyn, inputIndex: number, scale: Float32Array, offset: Float32Array): boolean {
  const layer = ctx.fusableLayer(inputIndex, ['Dense', 'Conv2D', 'DepthwiseConv2D', 'Conv2DTranspose']);
  if (!layer || layer.config.activation !== 'linear') return false;
  const weights = ctx.builder.weights.get(layer.name!) ?? [];
  const kernel = weights[0];
  const kshape = kernel.shape;
  // Output channel of kernel element i: the last axis (Dense, Conv2D), the last two (depthwise c·m+j), axis 2 (transposed).
  const outChannels =
    layer.class_name === 'Conv2DTranspose' ? kshape[2] : layer.class_name === 'DepthwiseConv2D' ? kshape[2] * kshape[3] : kshape[kshape.length - 1];
  const channelOf = layer.class_name === 'Conv2DTranspose' ? (i: number) => Math.floor(i / kshape[3]) % outChannels : (i: number) => i % outChannels;
  if (scale.length !== 1 && scale.length !== outChannels) return false;
  if (offset.length !== 1 && offset.length !== outChannels) return false;
  const k = Float32Array.from(kernel.data, (v, i) => v * at(scale, channelOf(i)));
  const oldBias = layer.config.use_bias ? weights[1].data : new Float32Array(outChannels);
  const bias = Float32Array.from({ length: outChannels }, (_, c) => oldBias[c] * at(scale, c) + at(offset, c));
  layer.config.use_bias = true;
  const next: H5Array[] = [
    { shape: kshape, data: k },
    { shape: [outChannels], data: bias },
  ];
  ctx.builder.weights.set(layer.name!, next);
  ctx.outFused(inputIndex, { ...x, nonNegative: false });
  return true;
}

function affine(ctx: OpContext, x: Dyn, inputIndex: number, scale: Float32Array, offset: Float32Array): void {
  if (foldIntoLayer(ctx, x, inputIndex, scale, offset)) return;
  if (scale.length === 1 && offset.length === 1) {
    const prev = ctx.fusableLayer(inputIndex, ['Rescaling']);
    if (prev) {
      // s2·(s1·x + o1) + o2
      const s1 = prev.config.scale as number;
      const o1 = prev.config.offset as number;
      prev.config.scale = s1 * scale[0];
      prev.config.offset = o1 * scale[0] + offset[0];
      ctx.outFused(inputIndex, { ...x, nonNegative: false });
      return;
    }
    const layer = ctx.builder.add('Rescaling', ctx.name, { scale: scale[0], offset: offset[0] }, [x.layer]);
    ctx.out({ kind: 'dyn', layer, shape: x.shape, perm: x.perm });
    return;
  }
  if (x.shape.length !== 4) ctx.unsupported(`${ctx.node.op} with a per-feature constant on a rank-${x.shape.length} tensor that no Dense precedes`);
  const image = ctx.builder.permute(x, NHWC, ctx.name);
  const channels = image.shape[1]!;
  const kernel = Float32Array.from({ length: channels }, (_, c) => at(scale, c));
  const bias = Float32Array.from({ length: channels }, (_, c) => at(offset, c));
  const layer = ctx.builder.add(
    'DepthwiseConv2D',
    ctx.name,
    {
      kernel_size: [1, 1],
      strides: [1, 1],
      padding: 'valid',
      depth_multiplier: 1,
      data_format: 'channels_last',
      activation: 'linear',
      use_bias: true,
    },
    [image.layer],
    [
      { shape: [1, 1, channels, 1], data: kernel },
      { shape: [channels], data: bias },
    ],
  );
  ctx.out({ kind: 'dyn', layer, shape: image.shape, perm: NHWC });
}

function arith(op: Op) {
  return (ctx: OpContext): void => {
    if (ctx.allConst()) {
      const r = elementwise(ctx.constant(0), ctx.constant(1), FOLD[op]);
      if (!r) ctx.unsupported(`${op} of constants that do not broadcast`);
      ctx.out(r);
      return;
    }
    const a = ctx.value(0);
    const b = ctx.value(1);
    if (a.kind === 'dyn' && b.kind === 'dyn') {
      const cls = MERGE_LAYER[op];
      if (!cls || !tf.serialization.SerializationMap.getMap().classNameMap[cls]) ctx.unsupported(`${op} of two computed tensors`);
      if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
        ctx.unsupported(`${op} broadcasting [${a.shape}] with [${b.shape}] (two computed tensors must have one shape)`);
      const bb = ctx.builder.permute(b, a.perm, `${ctx.name}_rhs`);
      const layer = ctx.builder.add(cls, ctx.name, {}, [a.layer, bb.layer]);
      ctx.out({ kind: 'dyn', layer, shape: a.shape, perm: a.perm, nonNegative: op !== 'Sub' && !!a.nonNegative && !!b.nonNegative });
      return;
    }
    const constFirst = a.kind === 'const';
    const x = (constFirst ? b : a) as Dyn;
    const c = (constFirst ? a : b) as Const;
    if (size(c.shape) === 0) ctx.unsupported(`${op} with an empty constant`);
    const shape = broadcastShape(
      x.shape.map((d) => d ?? 1),
      c.shape,
    );
    if (!shape || shape.length !== x.shape.length || shape.some((d, i) => d !== (x.shape[i] ?? 1)))
      ctx.unsupported(`${op} of [${x.shape}] with a constant of shape [${c.shape}] that enlarges it`);
    const v = channelVector(c, x);
    if (!v) ctx.unsupported(`${op} with a constant of shape [${c.shape}] that varies along more than the channel axis`);
    const xi = constFirst ? 1 : 0;
    const ones = Float32Array.of(1);
    const zeros = Float32Array.of(0);
    switch (op) {
      case 'Add':
        return affine(ctx, x, xi, ones, v);
      case 'Sub':
        return constFirst
          ? affine(ctx, x, xi, Float32Array.of(-1), v)
          : affine(
              ctx,
              x,
              xi,
              ones,
              v.map((e) => -e),
            );
      case 'Mul':
        return affine(ctx, x, xi, v, zeros);
      case 'Div':
        if (constFirst) ctx.unsupported('Div of a constant by a computed tensor');
        return affine(
          ctx,
          x,
          xi,
          v.map((e) => 1 / e),
          zeros,
        );
    }
  };
}

export const Add = arith('Add');
export const Sub = arith('Sub');
export const Mul = arith('Mul');
export const Div = arith('Div');
