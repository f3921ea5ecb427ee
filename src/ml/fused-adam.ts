// Adam whose per-variable update is one kernel (src/ml/kernels/adam-update.ts) on the wasm backend; on any other
// backend it is tfjs's AdamOptimizer unchanged. It keeps the parent's state (the m/v variables, iterations), so
// getWeights/setWeights/dispose behave as tfjs's; the bias corrections come from the iteration count.
import { tf } from './tf.ts';
import { ADAM_UPDATE, type AdamUpdateAttrs } from './kernels/adam-update.ts';

type Slot = { originalName: string; variable: tf.Variable };
type VariableGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  applyGradients(variableGradients: VariableGradients): void {
    if (tf.getBackend() !== 'wasm' || !tf.getKernel(ADAM_UPDATE, 'wasm')) return super.applyGradients(variableGradients);
    // The parent's moment slots are private in its typings, not at run time.
    const self = this as unknown as { accumulatedFirstMoment: Slot[]; accumulatedSecondMoment: Slot[] };
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const t = this.iterations + 1;
    const attrs: AdamUpdateAttrs = {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      correction1: 1 - Math.pow(this.beta1, t),
      correction2: 1 - Math.pow(this.beta2, t),
    };
    names.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name];
      self.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      self.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
      if (gradient == null) return;
      const m = self.accumulatedFirstMoment[i].variable;
      const v = self.accumulatedSecondMoment[i].variable;
      const [newValue, newM, newV] = tf
        .engine()
        .runKernel<tf.Tensor[]>(ADAM_UPDATE, { value, m, v, g: gradient }, attrs as unknown as tf.NamedAttrMap);
      value.assign(newValue);
      m.assign(newM);
      v.assign(newV);
      tf.dispose([newValue, newM, newV]);
    });
    // The parent's accBeta1/accBeta2 variables are not advanced: this path derives them from the iteration count, as
    // setWeights does (an optimizer does not change backend in the middle of a training).
    this.incrementIterations();
  }
}
