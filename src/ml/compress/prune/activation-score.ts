// Activation-aware pruning scores (Wanda, Sun et al. 2024): weight w_ij, from input feature i, scores
// |w_ij| · ‖x_i‖ (the root mean square of input i over a calibration batch; per input channel for convolutions).
// Plain magnitude keeps large weights on inputs that are never active — on MNIST the ~100 border pixels that are
// zero in nearly every image keep their initial weights, since no gradient ever moves them — and spends the
// budget of kept weights on them; this score prunes them first.
import { AppError } from '../../../errors.ts';
import { tf } from '../../tf.ts';
import type { NamedWeight, PrunableWeight } from './magnitude.ts';

/** Input RMS per input feature/channel of each given layer on `x`, as tensors shaped to broadcast over its kernel. */
function inputRms(model: tf.LayersModel, weights: readonly PrunableWeight[], x: tf.Tensor): Map<string, tf.Tensor> {
  const layers = weights.map((w) => model.getLayer(w.layerName));
  const symbolic = layers.map((l) => {
    const input = l.input;
    if (Array.isArray(input)) throw new AppError('INVALID_MODEL', `layer ${l.name} has several inputs`, { layer: l.name });
    return input;
  });
  const isModelInput = symbolic.map((s) => model.inputs.includes(s));
  // One probe output per distinct tensor: layers may share an input (a ResNet block's conv and its projection
  // shortcut), and a model listing one output twice predicts null for the repeat.
  const outputs: tf.SymbolicTensor[] = [];
  const outputOf = symbolic.map((s, i) => {
    if (isModelInput[i]) return -1;
    if (!outputs.includes(s)) outputs.push(s);
    return outputs.indexOf(s);
  });
  const probe = outputs.length > 0 ? tf.model({ inputs: model.inputs, outputs }) : null;
  const out = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    const predicted = probe ? probe.predict(x) : [];
    const inner = Array.isArray(predicted) ? predicted : [predicted];
    weights.forEach((w, i) => {
      const input = isModelInput[i] ? x : inner[outputOf[i]];
      const kernelRank = w.values.rank;
      // Mean of x² over every axis but the last (the feature/channel axis), shaped [1, …, in, 1] like the kernel.
      const axes = Array.from({ length: input.rank - 1 }, (_, a) => a);
      const rms = tf.sqrt(tf.mean(tf.square(input), axes));
      const shape = Array.from({ length: kernelRank }, (_, a) => (a === kernelRank - 2 ? rms.size : 1));
      out.set(w.name, tf.keep(tf.reshape(rms, shape)));
    });
  });
  return out;
}

/**
 * Scores |w| · rms(input feature) for each given kernel of `model` (Dense, Conv1D, Conv2D: the input axis is the
 * kernel's second to last). Returns score arrays by weight name, ready for magnitudeMasks.
 */
export function activationScores(model: tf.LayersModel, weights: readonly PrunableWeight[], x: tf.Tensor): NamedWeight[] {
  const rms = inputRms(model, weights, x);
  try {
    return weights.map((w) => {
      const score = tf.tidy(() => tf.mul(tf.abs(w.variable.read()), rms.get(w.name)!));
      const values = score.dataSync() as Float32Array;
      score.dispose();
      return { name: w.name, values };
    });
  } finally {
    tf.dispose([...rms.values()]);
  }
}
