// BatchNormalization (inference form: scale, bias, running mean and variance) → a BatchNormalization layer over the
// channel axis (last in tfjs), trainable like any Keras BN. ONNX momentum is Keras momentum (PyTorch's 0.1 → 0.9).
import type { OpContext } from '../context.ts';
import { NHWC } from '../layers.ts';

export function BatchNormalization(ctx: OpContext): void {
  let x = ctx.dyn(0);
  if (ctx.int('training_mode', 0)) ctx.unsupported('BatchNormalization in training mode');
  if (x.shape.length === 4) x = ctx.builder.permute(x, NHWC, ctx.name);
  else if (x.shape.length !== 2) ctx.unsupported(`BatchNormalization on a rank-${x.shape.length} tensor`);
  const channels = x.shape[1]!;
  const arrays = [1, 2, 3, 4].map((i) => {
    const c = ctx.constant(i, ['scale', 'bias', 'mean', 'var'][i - 1]);
    if (c.data.length !== channels)
      ctx.unsupported(`BatchNormalization ${['scale', 'bias', 'mean', 'var'][i - 1]} of ${c.data.length} values for ${channels} channels`);
    return { shape: [channels], data: Float32Array.from(c.data) };
  });
  const layer = ctx.builder.add(
    'BatchNormalization',
    ctx.name,
    { axis: -1, momentum: ctx.float('momentum', 0.9), epsilon: ctx.float('epsilon', 1e-5), center: true, scale: true },
    [x.layer],
    arrays,
  );
  ctx.out({ kind: 'dyn', layer, shape: x.shape, perm: x.perm });
}
