// A copy of a Layers topology whose initializers are all Zeros. Building a model from it (to summarise it, or to
// load weights that replace every value anyway) spends no time on random numbers and never writes the weight
// buffers, so their (calloc'd) pages never become resident.

/** Initializer arguments of the layers that own weights (absent ones default to random initializers). */
const INITIALIZER_KEYS: Record<string, string[]> = {
  Dense: ['kernel_initializer', 'bias_initializer'],
  Conv1D: ['kernel_initializer', 'bias_initializer'],
  Conv2D: ['kernel_initializer', 'bias_initializer'],
  Conv3D: ['kernel_initializer', 'bias_initializer'],
  Conv2DTranspose: ['kernel_initializer', 'bias_initializer'],
  DepthwiseConv2D: ['depthwise_initializer', 'bias_initializer'],
  SeparableConv2D: ['depthwise_initializer', 'pointwise_initializer', 'bias_initializer'],
  Embedding: ['embeddings_initializer'],
  BatchNormalization: ['gamma_initializer', 'beta_initializer', 'moving_mean_initializer', 'moving_variance_initializer'],
};
const ZEROS = { class_name: 'Zeros', config: {} };

/** The copy: every `*_initializer` (object or name) becomes Zeros, and so do the defaults of the classes above. */
export function withZeroInitializers(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withZeroInitializers);
  if (!node || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  const out = Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, k.endsWith('_initializer') && v ? ZEROS : withZeroInitializers(v)]));
  const keys = typeof obj.class_name === 'string' ? INITIALIZER_KEYS[obj.class_name] : undefined;
  if (keys && out.config && typeof out.config === 'object') {
    out.config = { ...out.config, ...Object.fromEntries(keys.map((k) => [k, ZEROS])) };
  }
  return out;
}
