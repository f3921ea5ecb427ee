// Quantization-aware fine-tuning with a straight-through estimator (Jacob et al. 2018; Bengio et al. 2013): the
// model's variables hold the fake-quantized weights, so every forward and backward pass sees what the exported
// model will compute; the float "shadow" weights accumulate the optimizer's updates. After each optimizer step the
// update it made to the quantized values (computed with the gradient at the quantized point — the STE: ∂q/∂w = 1)
// is added to the shadow, and the variables are re-quantized from it. Works with any training loop that offers an
// after-batch hook (trainModel's). Kernels that hold exact zeros (a pruned model) keep them: zero stays zero.
import { tf } from '../../tf.ts';
import { fakeQuantize, type QuantGranularity, type QuantGrid } from './fake-quant.ts';

interface Tracked {
  variable: tf.LayerVariable;
  shadow: Float32Array;
  /** The fake-quantized values last written into the variable. */
  written: Float32Array;
  /** 1 where the weight must stay exactly zero (a pruned kernel), else null. */
  frozenZeros: Uint8Array | null;
  grid: QuantGrid | null;
}

export class FakeQuantTrainer {
  private readonly tracked: Tracked[];

  /**
   * Tracks every float32 weight of `model` (trainable or not: batch-norm statistics are exported quantized too).
   * Call `quantize()` before training, `afterBatch()` after every optimizer step, and `finish()` at the end.
   */
  constructor(
    model: tf.LayersModel,
    private readonly granularity: QuantGranularity,
  ) {
    this.tracked = model.weights
      .filter((v) => v.dtype === 'float32')
      .map((variable) => {
        const shadow = Float32Array.from(variable.read().dataSync());
        let frozenZeros: Uint8Array | null = null;
        if (/kernel$/.test(variable.originalName) && shadow.some((x) => x === 0)) frozenZeros = Uint8Array.from(shadow, (x) => (x === 0 ? 1 : 0));
        return { variable, shadow, written: shadow, frozenZeros, grid: null };
      });
  }

  /** Writes the fake-quantized shadow weights into the variables. */
  quantize(): void {
    for (const t of this.tracked) {
      const { values, grid } = fakeQuantize(t.shadow, t.variable.shape as number[], this.granularity, t.variable.originalName);
      t.written = values;
      t.grid = grid;
      tf.tidy(() => {
        t.variable.write(tf.tensor(values, t.variable.shape as number[], 'float32'));
      });
    }
  }

  /** Folds the optimizer's last update into the shadow weights (STE), then re-quantizes. */
  afterBatch(): void {
    for (const t of this.tracked) {
      const now = t.variable.read().dataSync();
      for (let i = 0; i < t.shadow.length; i++) t.shadow[i] += now[i] - t.written[i];
      if (t.frozenZeros) for (let i = 0; i < t.shadow.length; i++) if (t.frozenZeros[i]) t.shadow[i] = 0;
    }
    this.quantize();
  }

  /**
   * Ends training. Per tensor the variables get the float shadow weights back: quantizing them for the manifest
   * (quantizeWeights, uint8) reproduces exactly the grid the model was trained on. Per channel they keep the
   * fake-quantized values (float32 on their per-channel grids). Returns each weight's grid by manifest name.
   */
  finish(): Record<string, QuantGrid> {
    this.quantize();
    const grids: Record<string, QuantGrid> = {};
    for (const t of this.tracked) {
      grids[t.variable.originalName] = t.grid!;
      if (this.granularity === 'tensor') {
        tf.tidy(() => {
          t.variable.write(tf.tensor(t.shadow, t.variable.shape as number[], 'float32'));
        });
      }
    }
    return grids;
  }
}
