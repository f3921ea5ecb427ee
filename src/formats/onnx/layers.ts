// The TF.js functional model an ONNX import builds: layer configs in Keras JSON form with their inbound nodes,
// the weights of each layer (in tfjs order), and the tensors flowing between them. An ONNX tensor is represented
// by a tfjs tensor plus an axis map: tfjs axis k holds ONNX axis perm[k]. NCHW activations are kept as NHWC tfjs
// tensors (perm [0, 2, 3, 1]); a Permute layer is inserted only where an op needs another order.
import type { JsonObject, LayerConfig } from '../keras/config.ts';
import type { H5Array } from '../keras/h5-file.ts';
import type { Const } from './proto.ts';

/** A value computed by the model at run time. */
export interface Dyn {
  kind: 'dyn';
  /** Name of the tfjs layer whose (first) output this is. */
  layer: string;
  /** The ONNX shape; dim 0 is the batch (null). */
  shape: (number | null)[];
  /** tfjs axis k holds ONNX axis perm[k] (perm[0] is always 0, the batch). */
  perm: number[];
  /**
   * Set on the output of a Flatten of an NHWC tensor that was kept without a Permute: the tfjs vector is in HWC order
   * where ONNX's is CHW, [C, H, W] of the flattened tensor. Only a Dense with constant weights may consume it (it
   * reorders its kernel rows).
   */
  flatFrom?: [number, number, number];
  /** Known ≥ 0 (after ReLU): zero padding then equals the -∞ padding of a max pool. */
  nonNegative?: boolean;
}

export type Value = Dyn | Const;

export const NHWC = [0, 2, 3, 1];
export const identityPerm = (rank: number) => Array.from({ length: rank }, (_, i) => i);
export const samePerm = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A valid, unique tfjs layer name from an ONNX node name ("/layer1/conv/Conv" → "layer1_conv_Conv"). */
function layerName(raw: string, used: Set<string>): string {
  const base = raw.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'layer';
  const start = /^[A-Za-z]/.test(base) ? base : `n_${base}`;
  let name = start;
  for (let i = 1; used.has(name); i++) name = `${start}_${i}`;
  used.add(name);
  return name;
}

export class LayersBuilder {
  readonly layers: LayerConfig[] = [];
  readonly weights = new Map<string, H5Array[]>();
  private readonly byName = new Map<string, LayerConfig>();
  private readonly used = new Set<string>();
  /** Per layer: how many layers take its output, and how many ONNX values name it (aliases). */
  private readonly fanOut = new Map<string, number>();
  private readonly aliases = new Map<string, number>();
  inputLayer = '';

  input(rawName: string, perExampleShape: number[]): string {
    const name = layerName(rawName, this.used);
    const layer: LayerConfig = {
      class_name: 'InputLayer',
      config: { batch_input_shape: [null, ...perExampleShape], dtype: 'float32', sparse: false, name },
      name,
      inbound_nodes: [],
    };
    this.layers.push(layer);
    this.byName.set(name, layer);
    this.inputLayer = name;
    return name;
  }

  /** Adds a layer fed by `inputs` (tfjs layer names); returns its name. */
  add(className: string, rawName: string, config: JsonObject, inputs: string[], weights: H5Array[] = []): string {
    const name = layerName(rawName, this.used);
    const layer: LayerConfig = {
      class_name: className,
      config: { name, trainable: true, dtype: 'float32', ...config },
      name,
      inbound_nodes: [inputs.map((i) => [i, 0, 0, {}])],
    };
    this.layers.push(layer);
    this.byName.set(name, layer);
    for (const i of inputs) this.fanOut.set(i, (this.fanOut.get(i) ?? 0) + 1);
    if (weights.length > 0) this.weights.set(name, weights);
    return name;
  }

  /** Records that an ONNX value is represented by this layer's output. */
  named(layer: string): void {
    this.aliases.set(layer, (this.aliases.get(layer) ?? 0) + 1);
  }

  /** An ONNX value naming this layer was consumed by folding into the layer itself (its only reader): forget it. */
  unnamed(layer: string): void {
    this.aliases.set(layer, (this.aliases.get(layer) ?? 1) - 1);
  }

  /**
   * Whether a later op may rewrite this layer (fold a bias, scale or activation into it): nothing reads its output yet
   * and only one ONNX value names it.
   */
  fusable(layer: string): boolean {
    return (this.fanOut.get(layer) ?? 0) === 0 && (this.aliases.get(layer) ?? 0) === 1;
  }

  layer(name: string): LayerConfig | undefined {
    return this.byName.get(name);
  }

  /** Inserts a Permute so `v` is laid out as `want` (tfjs axis k holds ONNX axis want[k]). */
  permute(v: Dyn, want: number[], rawName: string): Dyn {
    if (samePerm(v.perm, want)) return v;
    // Keras Permute dims are 1-based and exclude the batch: new axis k takes old axis dims[k-1].
    const dims = want.slice(1).map((onnxAxis) => v.perm.indexOf(onnxAxis));
    const layer = this.add('Permute', `${rawName}_permute`, { dims }, [v.layer]);
    return { kind: 'dyn', layer, shape: v.shape, perm: want, nonNegative: v.nonNegative };
  }

  topology(outputs: string[]): { class_name: string; config: JsonObject } {
    return {
      class_name: 'Functional',
      config: {
        name: 'onnx_model',
        layers: this.layers as unknown as JsonObject[],
        input_layers: [[this.inputLayer, 0, 0]],
        output_layers: outputs.map((o) => [o, 0, 0]),
      },
    };
  }
}
