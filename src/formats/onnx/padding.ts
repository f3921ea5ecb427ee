// ONNX spatial padding (explicit pads [top, left, bottom, right], auto_pad, ceil_mode) → Keras padding: 'valid',
// 'same' when the pads are exactly what TensorFlow's SAME would add, or a ZeroPadding2D layer before a 'valid' op.
// Zero padding is exact for convolutions, for average pools that count padding, and for max pools over
// non-negative inputs; anything else is reported as unsupported.
import type { OpContext } from './context.ts';
import type { Dyn } from './layers.ts';

export interface Window {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
}

/** TensorFlow SAME padding of one spatial dim: [begin, end]. */
export function samePads(size: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

export const outSize = (size: number, k: number, s: number, d: number, begin: number, end: number, ceil = false) =>
  (ceil ? Math.ceil : Math.floor)((size + begin + end - (d * (k - 1) + 1)) / s) + 1;

/** The explicit [top, left, bottom, right] pads of a node (auto_pad resolved against the input size). */
export function explicitPads(ctx: OpContext, x: Dyn, w: Window): [number, number, number, number] {
  const [h, wd] = [x.shape[2]!, x.shape[3]!];
  const autoPad = ctx.string('auto_pad', 'NOTSET');
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const [t, b] = samePads(h, w.kernel[0], w.strides[0], w.dilations[0]);
    const [l, r] = samePads(wd, w.kernel[1], w.strides[1], w.dilations[1]);
    return autoPad === 'SAME_UPPER' ? [t, l, b, r] : [b, r, t, l];
  }
  const pads = ctx.ints('pads') ?? [0, 0, 0, 0];
  if (pads.length !== 4) ctx.unsupported(`pads of length ${pads.length} (only 2-D windows)`);
  return [pads[0], pads[1], pads[2], pads[3]];
}

export type PadKind = 'conv' | 'max' | 'avg-include' | 'avg-exclude';

/**
 * Applies `pads` to `x`: returns the tensor to feed the op and the Keras padding mode. `extraEnd` adds bottom/right
 * padding for ceil_mode pools.
 */
export function applyPadding(
  ctx: OpContext,
  x: Dyn,
  w: Window,
  pads: [number, number, number, number],
  kind: PadKind,
  extraEnd: [number, number] = [0, 0],
): { x: Dyn; padding: 'valid' | 'same' } {
  const [t, l, b, r] = pads;
  const [h, wd] = [x.shape[2]!, x.shape[3]!];
  if (t === 0 && l === 0 && b === 0 && r === 0 && extraEnd[0] === 0 && extraEnd[1] === 0) return { x, padding: 'valid' };
  const [st, sb] = samePads(h, w.kernel[0], w.strides[0], w.dilations[0]);
  const [sl, sr] = samePads(wd, w.kernel[1], w.strides[1], w.dilations[1]);
  const isSame = t === st && b + extraEnd[0] === sb && l === sl && r + extraEnd[1] === sr;
  if (isSame && kind !== 'avg-include') return { x, padding: 'same' };
  if (kind === 'avg-exclude') ctx.unsupported(`average pool pads [${pads}] that exclude padding and are not TensorFlow's SAME`);
  if (kind === 'max' && !x.nonNegative) ctx.unsupported(`max pool pads [${pads}] on an input that may be negative`);
  const padding = [
    [t, b + extraEnd[0]],
    [l, r + extraEnd[1]],
  ];
  const layer = ctx.builder.add('ZeroPadding2D', `${ctx.name}_pad`, { padding, data_format: 'channels_last' }, [x.layer]);
  const shape = [x.shape[0], x.shape[1], h + t + b + extraEnd[0], wd + l + r + extraEnd[1]];
  return { x: { kind: 'dyn', layer, shape, perm: x.perm, nonNegative: x.nonNegative }, padding: 'valid' };
}

/** Output [N, C, H, W] of a window op over x with the given padding. */
export function windowOutShape(x: Dyn, channels: number, w: Window, pads: [number, number, number, number], ceil = false): (number | null)[] {
  const [t, l, b, r] = pads;
  return [
    x.shape[0],
    channels,
    outSize(x.shape[2]!, w.kernel[0], w.strides[0], w.dilations[0], t, b, ceil),
    outSize(x.shape[3]!, w.kernel[1], w.strides[1], w.dilations[1], l, r, ceil),
  ];
}
