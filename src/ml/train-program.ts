// A training step compiled for the common case (issue 15): a chain model of Dense / Conv2D / MaxPooling2D /
// Flatten / activation layers trained with the default softmax cross-entropy, as a flat list of wasm backend kernel
// calls (forward and backward) plus the loss as a JS loop over heap views, outside the tfjs engine: no gradient tape, no
// tidy scopes, no engine tensors until the gradients are handed to the optimizer. tfjs-layers' autodiff
// (src/ml/train-step.ts batchGradients) stays the general path: every other model, a custom loss, Dropout, any
// layer or option this compiler does not know, and every backend but wasm run there. Same gradients as that path
// within float32 rounding (test/unit/ml-train-program.test.ts).
//
// Why: on a 2-core VM a LeNet-300-100 step spent ~4.5 ms of ~12 ms outside its GEMMs (tape, tidy, dataId maps,
// kernel dispatch of ~70 small kernels, the loss's ~18 ops), a cost per step that does not shrink with the slice of
// a data-parallel replica. Here that step is 15 kernel calls: 8 GEMMs, 3 more for the bias gradients (ones · dz:
// faster than the Sum kernel or a JS loop), Step + Multiply per ReLU gradient (~5× a JS loop over a conv output).
//
// Per op: forward keeps what its backward needs (input, output); backward turns dL/d(output) into the gradients of
// its weights and dL/d(input). The loss (one pass per row: softmax, cross-entropy, dL/dz) matches
// src/ml/loss.ts crossEntropy: from logits, dz = (softmax(z) − y)/B as tf.losses.softmaxCrossEntropy; from
// probabilities (a final softmax), the clipped log's gradient through the softmax, as autodiff computes it.
import { countCorrect } from './host-data.ts';
import { tf } from './tf.ts';
import { planChain, type Activation } from './train-plan.ts';

type WasmBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
};

/** What a step needs from the caller: the batch on the wasm heap and its one-hot labels. */
export interface ProgramStep {
  /** Mean loss over the rows. */
  loss: number;
  correct: number;
  /** dL/dvar per variable of the compile-time list, in its order (wasm heap tensors; release with release()). */
  grads: (tf.TensorInfo | null)[];
}

export interface TrainProgram {
  /** Backend kernel calls of the last step (forward + backward; JS loops not counted). */
  readonly kernels: number;
  /** Layer names in program order (for tests and profiles). */
  readonly layers: string[];
  /**
   * Forward and backward on x ([rows, ...inputShape] float32 on the wasm heap; not consumed) against one-hot y
   * (rows × classes floats). The caller owns the returned gradients.
   */
  step(x: tf.TensorInfo, y: Float32Array): ProgramStep;
  /** Frees gradient TensorInfos returned by step(). */
  release(grads: (tf.TensorInfo | null)[]): void;
  /** The gradients as engine tensors (for an optimizer), owning the heap data: do not release() them after. */
  tensors(grads: (tf.TensorInfo | null)[]): (tf.Tensor | null)[];
  /** Frees the program's own buffers (the model and its variables are the caller's). */
  dispose(): void;
}

/** One step's scratch: heap tensors to free at its end. */
class Scratch {
  readonly temps: object[] = [];
  constructor(readonly backend: WasmBackend) {}
  out(shape: number[]): tf.TensorInfo {
    const info = this.backend.makeOutput(shape, 'float32');
    this.temps.push(info.dataId);
    return info;
  }
  keep(info: tf.TensorInfo): tf.TensorInfo {
    this.temps.push(info.dataId);
    return info;
  }
  view(info: tf.TensorInfo): Float32Array {
    return this.backend.typedArrayFromHeap(info);
  }
  free(): void {
    for (const id of this.temps) this.backend.disposeData(id);
    this.temps.length = 0;
  }
}

type KernelFunc = (args: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: WasmBackend }) => tf.TensorInfo;

interface Op {
  name: string;
  /** This op ends in a ReLU. */
  readonly activation?: Activation;
  /**
   * Its ReLU gradient is applied by the max pool after it, on the pooled gradient: the pool sends dy only to each
   * window's maximum, where relu'(out) = 1 exactly when the pooled value is > 0 (a quarter of the elements for 2×2).
   */
  reluMaskedByPool?: boolean;
  /** Returns the output (owned by the scratch, or a view of the input's data). */
  forward(x: tf.TensorInfo, s: Scratch): tf.TensorInfo;
  /** dy (a scratch tensor this op may overwrite) → dx (or null when not needed); writes its weights' gradients. */
  backward(dy: tf.TensorInfo, needDx: boolean, s: Scratch, grads: (tf.TensorInfo | null)[]): tf.TensorInfo | null;
}

const view = (info: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: info.dataId, shape, dtype: info.dtype });

/** dz = dy · relu'(out) as two wasm kernels (Step: 1 where out > 0, i.e. where z > 0; Multiply). */
function reluBackward(k: Kit, s: Scratch, out: tf.TensorInfo, dy: tf.TensorInfo): tf.TensorInfo {
  const mask = s.keep(k.get(tf.Step)({ inputs: { x: out }, attrs: { alpha: 0 }, backend: s.backend }));
  return s.keep(k.get(tf.Multiply)({ inputs: { a: view(dy, out.shape), b: mask }, attrs: {}, backend: s.backend }));
}

/** Per-channel sums of dz (the bias gradient): ones[1, rows] · dz[rows, channels], one GEMM call. */
function biasGradient(k: Kit, s: Scratch, dz: tf.TensorInfo, channels: number): tf.TensorInfo {
  const rows = dz.shape.reduce((a, b) => a * b, 1) / channels;
  const sums = k.get(tf.BatchMatMul)({
    inputs: { a: view(k.ones(rows, s.backend), [1, 1, rows]), b: view(dz, [1, rows, channels]) },
    attrs: { transposeA: false, transposeB: false },
    backend: s.backend,
  });
  return view(sums, [channels]);
}

interface Kit {
  /** The kernel `name` (each lookup is one call: counted). */
  get(name: string): KernelFunc;
  calls: number;
  /** A heap buffer of at least n ones (kept by the program, grown on demand). */
  ones(n: number, backend: WasmBackend): tf.TensorInfo;
  dispose(): void;
}

class DenseOp implements Op {
  reluMaskedByPool = false;
  private x!: tf.TensorInfo;
  private out!: tf.TensorInfo;
  constructor(
    readonly name: string,
    private readonly k: Kit,
    private readonly kernel: tf.Variable,
    private readonly bias: tf.Variable | null,
    readonly activation: Activation,
    private readonly kernelGrad: number,
    private readonly biasGrad: number,
  ) {}
  forward(x: tf.TensorInfo, s: Scratch): tf.TensorInfo {
    const [inDim, units] = this.kernel.shape;
    const rows = x.shape[0];
    this.x = x;
    const inputs: tf.NamedTensorInfoMap = { a: view(x, [1, rows, inDim]), b: view(this.kernel, [1, inDim, units]) };
    if (this.bias) inputs.bias = this.bias;
    const out = this.k.get(tf._FusedMatMul)({
      inputs,
      attrs: { transposeA: false, transposeB: false, activation: this.activation, leakyreluAlpha: 0 },
      backend: s.backend,
    });
    s.keep(out);
    this.out = view(out, [rows, units]);
    return this.out;
  }
  backward(dy: tf.TensorInfo, needDx: boolean, s: Scratch, grads: (tf.TensorInfo | null)[]): tf.TensorInfo | null {
    const [inDim, units] = this.kernel.shape;
    const rows = dy.shape[0];
    const dz = this.activation === 'relu' && !this.reluMaskedByPool ? reluBackward(this.k, s, this.out, dy) : dy;
    const dz3 = view(dz, [1, rows, units]);
    if (this.kernelGrad >= 0) {
      const dw = this.k.get(tf.BatchMatMul)({
        inputs: { a: view(this.x, [1, rows, inDim]), b: dz3 },
        attrs: { transposeA: true, transposeB: false },
        backend: s.backend,
      });
      grads[this.kernelGrad] = view(dw, [inDim, units]);
    }
    if (this.biasGrad >= 0) grads[this.biasGrad] = biasGradient(this.k, s, dz, units);
    if (!needDx) return null;
    const dx = this.k.get(tf.BatchMatMul)({
      inputs: { a: dz3, b: view(this.kernel, [1, inDim, units]) },
      attrs: { transposeA: false, transposeB: true },
      backend: s.backend,
    });
    s.keep(dx);
    return view(dx, [rows, inDim]);
  }
}

class Conv2DOp implements Op {
  reluMaskedByPool = false;
  private x!: tf.TensorInfo;
  private out!: tf.TensorInfo;
  constructor(
    readonly name: string,
    private readonly k: Kit,
    private readonly kernel: tf.Variable,
    private readonly bias: tf.Variable | null,
    readonly activation: Activation,
    private readonly strides: [number, number],
    private readonly pad: 'same' | 'valid',
    private readonly kernelGrad: number,
    private readonly biasGrad: number,
  ) {}
  forward(x: tf.TensorInfo, s: Scratch): tf.TensorInfo {
    this.x = x;
    const inputs: tf.NamedTensorInfoMap = { x, filter: this.kernel };
    if (this.bias) inputs.bias = this.bias;
    const attrs = {
      strides: this.strides,
      pad: this.pad,
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: null,
      activation: this.activation,
      leakyreluAlpha: 0,
    } as unknown as tf.NamedAttrMap;
    this.out = s.keep(this.k.get(tf.FusedConv2D)({ inputs, attrs, backend: s.backend }));
    return this.out;
  }
  backward(dy: tf.TensorInfo, needDx: boolean, s: Scratch, grads: (tf.TensorInfo | null)[]): tf.TensorInfo | null {
    dy = this.activation === 'relu' && !this.reluMaskedByPool ? reluBackward(this.k, s, this.out, dy) : dy;
    const common = { strides: this.strides, pad: this.pad, dataFormat: 'NHWC', dimRoundingMode: null, dilations: [1, 1] };
    if (this.kernelGrad >= 0) {
      grads[this.kernelGrad] = this.k.get(tf.Conv2DBackpropFilter)({
        inputs: { x: this.x, dy },
        attrs: { ...common, filterShape: this.kernel.shape } as unknown as tf.NamedAttrMap,
        backend: s.backend,
      });
    }
    if (this.biasGrad >= 0) grads[this.biasGrad] = biasGradient(this.k, s, dy, this.kernel.shape[3]!);
    if (!needDx) return null;
    return s.keep(
      this.k.get(tf.Conv2DBackpropInput)({
        inputs: { dy, filter: this.kernel },
        attrs: { ...common, inputShape: this.x.shape } as unknown as tf.NamedAttrMap,
        backend: s.backend,
      }),
    );
  }
}

/** Max pooling (NHWC); the gradient goes to the first maximum of each window (as tfjs's cpu backend). */
class MaxPoolOp implements Op {
  /** The op before ends in a ReLU whose gradient this pool applies (see Op.reluMaskedByPool). */
  masksRelu = false;
  private x!: tf.TensorInfo;
  private out!: tf.TensorInfo;
  constructor(
    readonly name: string,
    private readonly k: Kit,
    private readonly filterSize: [number, number],
    private readonly strides: [number, number],
    private readonly pad: 'same' | 'valid',
  ) {}
  forward(x: tf.TensorInfo, s: Scratch): tf.TensorInfo {
    this.x = x;
    const attrs = { filterSize: this.filterSize, strides: this.strides, pad: this.pad, dimRoundingMode: null } as unknown as tf.NamedAttrMap;
    this.out = s.keep(this.k.get(tf.MaxPool)({ inputs: { x }, attrs, backend: s.backend }));
    return this.out;
  }
  /** The registered MaxPoolGrad: the native addon's where it loads, else src/ml/kernels/max-pool-grad.ts. */
  backward(dy: tf.TensorInfo, needDx: boolean, s: Scratch): tf.TensorInfo | null {
    if (!needDx) return null;
    if (this.masksRelu) dy = reluBackward(this.k, s, this.out, dy);
    const attrs = { filterSize: this.filterSize, strides: this.strides, pad: this.pad, dimRoundingMode: null } as unknown as tf.NamedAttrMap;
    return s.keep(this.k.get(tf.MaxPoolGrad)({ inputs: { dy, input: this.x, output: this.out }, attrs, backend: s.backend }));
  }
}

/** Flatten / Reshape: the same data under another shape. */
class ReshapeOp implements Op {
  private inShape: number[] = [];
  constructor(
    readonly name: string,
    private readonly shape: number[],
  ) {}
  forward(x: tf.TensorInfo): tf.TensorInfo {
    this.inShape = x.shape;
    return view(x, [x.shape[0], ...this.shape]);
  }
  backward(dy: tf.TensorInfo, needDx: boolean): tf.TensorInfo | null {
    return needDx ? view(dy, this.inShape) : null;
  }
}

/** A standalone ReLU (Activation('relu') / ReLU layer) or linear activation. */
class ActivationOp implements Op {
  reluMaskedByPool = false;
  private out!: tf.TensorInfo;
  constructor(
    readonly name: string,
    private readonly k: Kit,
    readonly activation: Activation,
  ) {}
  forward(x: tf.TensorInfo, s: Scratch): tf.TensorInfo {
    if (this.activation === 'linear') return x;
    this.out = s.keep(this.k.get(tf.Relu)({ inputs: { x }, attrs: {}, backend: s.backend }));
    return this.out;
  }
  backward(dy: tf.TensorInfo, needDx: boolean, s: Scratch): tf.TensorInfo | null {
    if (!needDx) return null;
    return this.activation === 'relu' && !this.reluMaskedByPool ? reluBackward(this.k, s, this.out, dy) : dy;
  }
}

const EPSILON = 1e-7;

/**
 * Loss, correct count and dL/dz of the batch, one row at a time (float64 inside). z: the model's logits, or the
 * input of its final softmax when `probabilities`. Matches crossEntropy in src/ml/loss.ts and its autodiff gradient.
 */
export function softmaxCrossEntropy(
  z: Float32Array,
  y: Float32Array,
  rows: number,
  classes: number,
  probabilities: boolean,
  dz: Float32Array,
): { loss: number; correct: number } {
  const p = new Float64Array(classes);
  const dp = new Float64Array(classes);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) if (z[base + c] > max) max = z[base + c];
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += p[c] = Math.exp(z[base + c] - max);
    const lse = Math.log(sum);
    if (!probabilities) {
      // tf.losses.softmaxCrossEntropy: −Σ y·(z − logsumexp z), gradient (softmax(z) − y) per row, mean over rows.
      for (let c = 0; c < classes; c++) {
        const yc = y[base + c];
        if (yc !== 0) loss -= yc * (z[base + c] - max - lse);
        dz[base + c] = (p[c] / sum - yc) / rows;
      }
      continue;
    }
    // −Σ y·log(clip(p, ε, 1 − ε)): d/dp = −y/(clip p) where ε ≤ p ≤ 1 − ε (0 where clipped), then through softmax.
    let dot = 0;
    for (let c = 0; c < classes; c++) {
      const pc = Math.fround(p[c] / sum);
      p[c] = pc;
      const clipped = Math.min(Math.max(pc, EPSILON), 1 - EPSILON);
      const yc = y[base + c];
      if (yc !== 0) loss -= yc * Math.log(clipped);
      dp[c] = pc >= EPSILON && pc <= 1 - EPSILON ? -yc / clipped / rows : 0;
      dot += dp[c] * pc;
    }
    for (let c = 0; c < classes; c++) dz[base + c] = p[c] * (dp[c] - dot);
  }
  return { loss: loss / rows, correct: countCorrect(z, y, rows, classes) };
}

class Program implements TrainProgram {
  kernels = 0;
  readonly layers: string[];
  /** Ops from this index on need dL/d(input) (the ones before it have no weights to train). */
  private readonly firstNeedingDx: number;
  constructor(
    private readonly kit: Kit,
    private readonly ops: Op[],
    private readonly classes: number,
    private readonly probabilities: boolean,
    private readonly vars: number,
    /** Index of the first op with a trained weight. */
    firstTrained: number,
  ) {
    this.firstNeedingDx = firstTrained + 1;
    this.layers = ops.map((o) => o.name);
  }

  step(x: tf.TensorInfo, y: Float32Array): ProgramStep {
    const backend = tf.backend() as WasmBackend;
    const s = new Scratch(backend);
    const grads: (tf.TensorInfo | null)[] = new Array<tf.TensorInfo | null>(this.vars).fill(null);
    const rows = x.shape[0];
    this.kit.calls = 0;
    try {
      let h = x;
      for (const op of this.ops) h = op.forward(h, s);
      let dy = s.out([rows, this.classes]);
      const { loss, correct } = softmaxCrossEntropy(s.view(h), y, rows, this.classes, this.probabilities, s.view(dy));
      for (let i = this.ops.length - 1; i >= 0; i--) {
        const dx = this.ops[i].backward(dy, i >= this.firstNeedingDx, s, grads);
        if (dx === null) break;
        dy = dx;
      }
      this.kernels = this.kit.calls;
      return { loss, correct, grads };
    } catch (e) {
      this.release(grads);
      throw e;
    } finally {
      s.free();
    }
  }

  dispose(): void {
    this.kit.dispose();
  }

  release(grads: (tf.TensorInfo | null)[]): void {
    const backend = tf.backend() as WasmBackend;
    for (const g of grads) if (g) backend.disposeData(g.dataId);
  }

  tensors(grads: (tf.TensorInfo | null)[]): (tf.Tensor | null)[] {
    const engine = tf.engine();
    return grads.map((g) => (g ? engine.makeTensorFromTensorInfo(g, engine.backend) : null));
  }
}

/** Kernel lookups resolved when the program is compiled (after every registration: ours, the native GEMMs). */
function kernelKit(): Kit | null {
  const names = [
    tf._FusedMatMul,
    tf.BatchMatMul,
    tf.FusedConv2D,
    tf.Conv2DBackpropFilter,
    tf.Conv2DBackpropInput,
    tf.MaxPool,
    tf.MaxPoolGrad,
    tf.Relu,
    tf.Step,
    tf.Multiply,
  ];
  const table = new Map<string, KernelFunc>();
  for (const n of names) {
    const k = tf.getKernel(n, 'wasm');
    if (!k) return null;
    table.set(n, k.kernelFunc as unknown as KernelFunc);
  }
  let ones: { info: tf.TensorInfo; backend: WasmBackend; n: number } | null = null;
  const dispose = () => {
    if (ones) ones.backend.disposeData(ones.info.dataId);
    ones = null;
  };
  const kit: Kit = {
    get(n) {
      kit.calls++;
      return table.get(n)!;
    },
    calls: 0,
    ones(n, backend) {
      if (!ones || ones.n < n || ones.backend !== backend) {
        dispose();
        const info = backend.makeOutput([n], 'float32');
        backend.typedArrayFromHeap(info).fill(1);
        ones = { info, backend, n };
      }
      return ones.info;
    },
    dispose,
  };
  return kit;
}

/** Why a model trains on the general path (null: it compiles). Exposed for tests and logs. */
export function programRefusal(model: tf.LayersModel, vars: tf.Variable[], yWidth: number): string | null {
  return compile(model, vars, yWidth).reason;
}

/**
 * The compiled step of `model` (trained on `vars`, in that order, with the default loss), or null when the model,
 * the backend or the labels (yWidth columns) are not the common case this program covers (the caller then takes the general path).
 */
export function compileTrainProgram(model: tf.LayersModel, vars: tf.Variable[], yWidth: number): TrainProgram | null {
  return compile(model, vars, yWidth).program;
}

function compile(model: tf.LayersModel, vars: tf.Variable[], yWidth: number): { program: TrainProgram | null; reason: string | null } {
  const refuse = (reason: string) => ({ program: null, reason });
  if (tf.getBackend() !== 'wasm') return refuse(`backend ${tf.getBackend()}`);
  if (process.env.MODELPRESS_TRAIN_PROGRAM === '0') return refuse('MODELPRESS_TRAIN_PROGRAM=0');
  const k = kernelKit();
  if (!k) return refuse('a kernel is missing');
  const { plan, reason } = planChain(model, vars, yWidth);
  if (!plan) return refuse(reason!);
  const ops: Op[] = plan.layers.map((l) => {
    switch (l.kind) {
      case 'dense':
        return new DenseOp(l.name, k, l.kernel, l.bias, l.activation, l.kernelGrad, l.biasGrad);
      case 'conv2d':
        return new Conv2DOp(l.name, k, l.kernel, l.bias, l.activation, l.strides, l.pad, l.kernelGrad, l.biasGrad);
      case 'maxPool':
        return new MaxPoolOp(l.name, k, l.size, l.strides, l.pad);
      case 'reshape':
        return new ReshapeOp(l.name, l.shape);
      case 'activation':
        return new ActivationOp(l.name, k, l.activation);
    }
  });
  for (let i = 1; i < ops.length; i++) {
    const pool = ops[i];
    const before = ops[i - 1];
    if (pool instanceof MaxPoolOp && before.activation === 'relu') {
      pool.masksRelu = true;
      before.reluMaskedByPool = true;
    }
  }
  return { program: new Program(k, ops, plan.classes, plan.probabilities, plan.vars, plan.firstTrained), reason: null };
}
