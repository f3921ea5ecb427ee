/// <reference types="@webgpu/types" />
// The training step on WebGPU for the common case (a chain plan, src/ml/train-plan.ts), as our own compute pipelines
// on tfjs-webgpu's device instead of tfjs ops (issue 15). Measured on an H100, tfjs-webgpu spent ~0.5-1 ms of
// dispatch overhead per op (tape, per-op uniform and bind-group creation, a pass per op), so a ~70-op LeNet step ran
// at 2% of PyTorch whatever the GPU. Here a step is one command buffer: the batch gathered on the GPU from the
// resident data set, fused dense+bias+ReLU and conv+bias+ReLU, the loss and its gradient in one workgroup, ReLU
// gradients folded into the input-gradient kernels, the optimizer over one flat parameter buffer — ~14 dispatches for
// LeNet-300-100, with bind groups made once. Nothing is read back inside a step: loss and correct counts accumulate
// on the GPU and are read when the caller asks (epoch end, a log line).
//
// The program owns the trained weights while it runs (flat buffer, each variable 256-byte aligned as storage
// bindings need); sync() writes them back into the model's variables.
import { tf } from '../tf.ts';
import type { ChainPlan, Conv2DPlan, DensePlan, MaxPoolPlan } from '../train-plan.ts';
import {
  columnSums,
  convFilterGrad,
  convForward,
  convInputGrad,
  gatherRows,
  gemm,
  maxPoolForward,
  maxPoolGrad,
  optimizerUpdate,
  softmaxCrossEntropy,
  window,
  WG,
  type UpdateRule,
  type Window,
} from './wgsl.ts';

const ALIGN = 64; // floats: 256 bytes, minStorageBufferOffsetAlignment on every adapter we target
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
const prod = (a: number[]) => a.reduce((x, y) => x * y, 1);

/** A slice of a buffer, as a storage binding. */
interface Slice {
  buffer: GPUBuffer;
  offset: number; // floats
  size: number; // floats
}

/** One dispatch: pipeline, bindings, and its workgroup count for a batch of `rows`. */
interface Dispatch {
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  workgroups(rows: number): [number, number];
}

/** Workgroups covering `n` invocations of a one-thread-per-element kernel, spread over x and y. */
function linear(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / WG));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

export interface GpuTrainData {
  /** All training rows, row-major, and their one-hot labels. */
  x: Float32Array;
  y: Float32Array;
  rows: number;
}

export interface GpuProgramOptions {
  maxBatch: number;
  rule: UpdateRule;
}

/** Why a plan cannot run here (null: it can). */
export function gpuRefusal(device: GPUDevice, plan: ChainPlan, data: { rows: number; rowFloats: number; classes: number }): string | null {
  const limit = device.limits.maxStorageBufferBindingSize;
  if (data.rows * data.rowFloats * 4 > limit)
    return `the training set (${data.rows * data.rowFloats * 4} bytes) exceeds one storage binding (${limit})`;
  let prev: string | null = null;
  for (const l of plan.layers) {
    if (l.kind === 'activation' && l.activation === 'relu' && !(prev === 'dense-linear' || prev === 'conv2d-linear'))
      return `${l.name}: a standalone ReLU not after a linear Dense/Conv2D`;
    prev = l.kind === 'dense' || l.kind === 'conv2d' ? `${l.kind}-${l.activation}` : l.kind === 'reshape' || l.kind === 'activation' ? prev : l.kind;
  }
  return null;
}

type Op =
  | { kind: 'dense'; plan: DensePlan; inDim: number; units: number }
  | { kind: 'conv2d'; plan: Conv2DPlan; w: Window; co: number }
  | { kind: 'maxPool'; plan: MaxPoolPlan; w: Window };

export class GpuTrainProgram {
  private readonly buffers: GPUBuffer[] = [];
  private readonly steps: Dispatch[] = [];
  private readonly uniform: GPUBuffer;
  private readonly idx: GPUBuffer;
  private readonly totals: GPUBuffer;
  private readonly weights: GPUBuffer;
  private readonly offsets: number[] = [];
  private readonly ops: Op[] = [];
  private readonly uniformData = new ArrayBuffer(16);
  private iterations = 0;

  /** The program for this plan, with the variables' current values and the data set uploaded. */
  static async create(
    device: GPUDevice,
    plan: ChainPlan,
    vars: tf.Variable[],
    data: GpuTrainData,
    opts: GpuProgramOptions,
  ): Promise<GpuTrainProgram> {
    // tfjs-webgpu reads back only asynchronously under Node (its dataSync needs an OffscreenCanvas).
    const values = await Promise.all(vars.map(async (v) => Float32Array.from(await v.data())));
    const frozen = new Map<tf.Variable, Float32Array<ArrayBuffer>>();
    for (const l of plan.layers)
      if (l.kind === 'dense' || l.kind === 'conv2d')
        for (const w of [l.kernel, l.bias]) if (w && !vars.includes(w)) frozen.set(w, Float32Array.from(await w.data()));
    // A kernel that does not compile or bind is our bug: fail loudly rather than train on zeros.
    device.pushErrorScope('validation');
    const program = new GpuTrainProgram(device, plan, vars, values, frozen, data, opts);
    const error = await device.popErrorScope();
    if (error) {
      program.dispose();
      throw new Error(`WebGPU training program: ${error.message}`);
    }
    return program;
  }

  private constructor(
    private readonly device: GPUDevice,
    private readonly plan: ChainPlan,
    private readonly vars: tf.Variable[],
    values: Float32Array[],
    private readonly frozen: Map<tf.Variable, Float32Array<ArrayBuffer>>,
    data: GpuTrainData,
    private readonly opts: GpuProgramOptions,
  ) {
    const B = opts.maxBatch;
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const make = (floats: number, usage = storage) => {
      const b = device.createBuffer({ size: Math.max(16, alignUp(floats) * 4), usage });
      this.buffers.push(b);
      return b;
    };
    const whole = (buffer: GPUBuffer, size: number): Slice => ({ buffer, offset: 0, size });

    // Parameters, their gradients and the optimizer's state: one flat buffer each, the same layout.
    let total = 0;
    for (const v of vars) {
      this.offsets.push(total);
      total += alignUp(v.size);
    }
    this.offsets.push(total);
    this.weights = make(total);
    const flat = new Float32Array(total);
    values.forEach((v, i) => flat.set(v, this.offsets[i]));
    device.queue.writeBuffer(this.weights, 0, flat);
    const grads = make(total); // zeros: padding and untouched entries stay 0, so the optimizer leaves them at 0
    const m = opts.rule.kind === 'sgd' ? null : make(total);
    const v2 = opts.rule.kind === 'adam' ? make(total) : null;
    const param = (buffer: GPUBuffer, varIndex: number): Slice => ({ buffer, offset: this.offsets[varIndex], size: vars[varIndex].size });

    this.uniform = make(4, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.idx = make(B, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    this.totals = make(4);
    const rowFloats = prod(plan.inShape);
    const xAll = make(data.rows * rowFloats);
    device.queue.writeBuffer(xAll, 0, data.x.buffer, data.x.byteOffset, data.rows * rowFloats * 4);
    const yAll = make(data.rows * plan.classes);
    device.queue.writeBuffer(yAll, 0, data.y.buffer, data.y.byteOffset, data.rows * plan.classes * 4);

    const pipelines = new Map<string, GPUComputePipeline>();
    const pipeline = (code: string) => {
      let p = pipelines.get(code);
      if (!p) {
        p = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
        pipelines.set(code, p);
      }
      return p;
    };
    const add = (code: string, bindings: Record<number, Slice | GPUBuffer | undefined>, workgroups: (rows: number) => [number, number]) => {
      const p = pipeline(code);
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniform } }];
      for (const [k, s] of Object.entries(bindings)) {
        if (!s) continue;
        const r = 'buffer' in s ? { buffer: s.buffer, offset: s.offset * 4, size: Math.max(4, s.size * 4) } : { buffer: s };
        entries.push({ binding: Number(k), resource: r });
      }
      this.steps.push({ pipeline: p, group: device.createBindGroup({ layout: p.getBindGroupLayout(0), entries }), workgroups });
    };

    // The batch.
    const xb = make(B * rowFloats);
    const yb = make(B * plan.classes);
    add(gatherRows(rowFloats), { 1: xAll, 2: this.idx, 3: xb }, (r) => linear(r * rowFloats));
    add(gatherRows(plan.classes), { 1: yAll, 2: this.idx, 3: yb }, (r) => linear(r * plan.classes));

    // Forward: the activations each op's backward needs stay in their buffers. A reshape changes no buffer; a
    // standalone ReLU is folded into the layer before (gpuRefusal guarantees there is one).
    let shape = plan.inShape.slice();
    let h = xb;
    const inputs: GPUBuffer[] = [];
    const outputs: GPUBuffer[] = [];
    for (const l of plan.layers) {
      if (l.kind === 'reshape') {
        shape = l.shape.slice();
        continue;
      }
      if (l.kind === 'activation') {
        const last = this.ops[this.ops.length - 1];
        if (l.activation === 'relu' && last && last.kind !== 'maxPool') last.plan.activation = 'relu';
        continue;
      }
      let op: Op;
      let outShape: number[];
      if (l.kind === 'dense') {
        const [inDim, units] = l.kernel.shape as [number, number];
        op = { kind: 'dense', plan: { ...l }, inDim, units };
        outShape = [units];
      } else if (l.kind === 'conv2d') {
        const [kH, kW, , co] = l.kernel.shape as number[];
        const w = window(shape[0], shape[1], shape[2], kH, kW, l.strides, l.pad);
        op = { kind: 'conv2d', plan: { ...l }, w, co };
        outShape = [w.outH, w.outW, co];
      } else {
        const w = window(shape[0], shape[1], shape[2], l.size[0], l.size[1], l.strides, l.pad);
        op = { kind: 'maxPool', plan: l, w };
        outShape = [w.outH, w.outW, shape[2]];
      }
      this.ops.push(op);
      inputs.push(h);
      h = make(B * prod(outShape));
      outputs.push(h);
      shape = outShape;
    }
    // Forward dispatches are added after the fold above settled every activation.
    this.ops.forEach((op, i) => {
      const x = inputs[i];
      const y = outputs[i];
      if (op.kind === 'dense') {
        const p = op.plan;
        const b = vars.findIndex((v) => v === p.bias);
        const k = vars.indexOf(p.kernel);
        add(
          gemm({
            M: { rowsTimes: 1 },
            N: op.units,
            K: op.inDim,
            transA: false,
            transB: false,
            bias: p.bias !== null,
            relu: p.activation === 'relu',
            mask: false,
          }),
          {
            1: x,
            2: k >= 0 ? param(this.weights, k) : this.constant(p.kernel),
            3: y,
            ...(p.bias ? { 4: b >= 0 ? param(this.weights, b) : this.constant(p.bias) } : {}),
          },
          (r) => [Math.ceil(op.units / 64), Math.ceil(r / 64)],
        );
      } else if (op.kind === 'conv2d') {
        const p = op.plan;
        const b = vars.findIndex((v) => v === p.bias);
        const k = vars.indexOf(p.kernel);
        const outFloats = op.w.outH * op.w.outW * op.co;
        add(
          convForward(op.w, op.co, p.bias !== null, p.activation === 'relu'),
          {
            1: x,
            2: k >= 0 ? param(this.weights, k) : this.constant(p.kernel),
            3: y,
            ...(p.bias ? { 4: b >= 0 ? param(this.weights, b) : this.constant(p.bias) } : {}),
          },
          (r) => linear(r * outFloats),
        );
      } else {
        const outFloats = op.w.outH * op.w.outW * op.w.inC;
        add(maxPoolForward(op.w), { 1: x, 3: y }, (r) => linear(r * outFloats));
      }
    });

    // Loss: dL/dz of the last op's output into a gradient buffer.
    const maxAct = Math.max(rowFloats, ...this.ops.map((_, i) => this.outFloats(i)));
    const g = [make(B * maxAct), make(B * maxAct)];
    const lastOp = this.ops[this.ops.length - 1];
    const lastRelu = lastOp.kind !== 'maxPool' && lastOp.plan.activation === 'relu';
    add(softmaxCrossEntropy(plan.classes, plan.probabilities, lastRelu), { 1: outputs[outputs.length - 1], 2: yb, 3: g[0], 4: this.totals }, () => [
      1, 1,
    ]);

    // Backward, last op first; each input gradient is masked by relu' of the op before when that one ends in a ReLU
    // (its output is this op's input).
    let cur = 0;
    const firstNeedingDx = this.firstOpNeedingDx();
    for (let i = this.ops.length - 1; i >= 0; i--) {
      const op = this.ops[i];
      const dy = whole(g[cur], B * this.outFloats(i));
      const dx = whole(g[1 - cur], B * this.inFloats(i));
      const prev = this.ops[i - 1];
      const mask = i > 0 && prev.kind !== 'maxPool' && prev.plan.activation === 'relu';
      const needDx = i >= firstNeedingDx;
      if (op.kind === 'dense') {
        const p = op.plan;
        const k = vars.indexOf(p.kernel);
        const b = p.bias ? vars.indexOf(p.bias) : -1;
        if (k >= 0)
          add(
            gemm({ M: op.inDim, N: op.units, K: { rowsTimes: 1 }, transA: true, transB: false, bias: false, relu: false, mask: false }),
            { 1: inputs[i], 2: dy, 3: param(grads, k) },
            () => [Math.ceil(op.units / 64), Math.ceil(op.inDim / 64)],
          );
        if (b >= 0) add(columnSums(1, op.units), { 1: dy, 3: param(grads, b) }, () => [op.units, 1]);
        if (needDx)
          add(
            gemm({ M: { rowsTimes: 1 }, N: op.inDim, K: op.units, transA: false, transB: true, bias: false, relu: false, mask }),
            { 1: dy, 2: k >= 0 ? param(this.weights, k) : this.constant(p.kernel), 3: dx, ...(mask ? { 5: inputs[i] } : {}) },
            (r) => [Math.ceil(op.inDim / 64), Math.ceil(r / 64)],
          );
      } else if (op.kind === 'conv2d') {
        const p = op.plan;
        const k = vars.indexOf(p.kernel);
        const b = p.bias ? vars.indexOf(p.bias) : -1;
        const filterSize = p.kernel.size;
        if (k >= 0)
          add(convFilterGrad(op.w, op.co), { 1: inputs[i], 2: dy, 3: param(grads, k) }, () => [
            Math.min(filterSize, 65535),
            Math.ceil(filterSize / 65535),
          ]);
        if (b >= 0) add(columnSums(op.w.outH * op.w.outW, op.co), { 1: dy, 3: param(grads, b) }, () => [op.co, 1]);
        const inFloats = this.inFloats(i);
        if (needDx)
          add(
            convInputGrad(op.w, op.co, mask),
            { 1: dy, 2: k >= 0 ? param(this.weights, k) : this.constant(p.kernel), 3: dx, ...(mask ? { 5: inputs[i] } : {}) },
            (r) => linear(r * inFloats),
          );
      } else if (needDx) {
        const inFloats = this.inFloats(i);
        add(maxPoolGrad(op.w, mask), { 1: dy, 2: inputs[i], 3: dx }, (r) => linear(r * inFloats));
      }
      if (!needDx) break;
      cur = 1 - cur;
    }

    // The optimizer over every parameter at once.
    const rule = opts.rule;
    add(optimizerUpdate(total, rule), { 1: grads, 2: this.weights, ...(m ? { 3: m } : {}), ...(v2 ? { 4: v2 } : {}) }, () => linear(total));
  }

  /** Floats per row of op i's input / output. */
  private inFloats(i: number): number {
    const op = this.ops[i];
    return op.kind === 'dense' ? op.inDim : op.w.inH * op.w.inW * op.w.inC;
  }
  private outFloats(i: number): number {
    const op = this.ops[i];
    return op.kind === 'dense' ? op.units : op.kind === 'conv2d' ? op.w.outH * op.w.outW * op.co : op.w.outH * op.w.outW * op.w.inC;
  }
  /** Ops before the first trained one need no input gradient. */
  private firstOpNeedingDx(): number {
    const trainedOp = this.ops.findIndex(
      (o) => o.kind !== 'maxPool' && (this.vars.includes(o.plan.kernel) || (o.plan.bias !== null && this.vars.includes(o.plan.bias))),
    );
    return trainedOp + 1;
  }
  /** A frozen (untrained) weight, uploaded once. */
  private constant(v: tf.Variable): GPUBuffer {
    const b = this.device.createBuffer({ size: Math.max(16, alignUp(v.size) * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    this.buffers.push(b);
    this.device.queue.writeBuffer(b, 0, this.frozen.get(v)!);
    return b;
  }

  /** Dispatches per step. */
  get dispatches(): number {
    return this.steps.length;
  }

  /** One optimizer step on the training rows `rows` (indices into the resident data set), learning rate `lr`. */
  step(rows: Int32Array, lr: number): void {
    const n = rows.length;
    if (n < 1 || n > this.opts.maxBatch) throw new Error(`batch of ${n} rows (1..${this.opts.maxBatch})`);
    this.iterations++;
    const u = new DataView(this.uniformData);
    u.setUint32(0, n, true);
    u.setFloat32(4, lr, true);
    const rule = this.opts.rule;
    u.setFloat32(8, rule.kind === 'adam' ? 1 - Math.pow(rule.beta1, this.iterations) : 1, true);
    u.setFloat32(12, rule.kind === 'adam' ? 1 - Math.pow(rule.beta2, this.iterations) : 1, true);
    const q = this.device.queue;
    q.writeBuffer(this.uniform, 0, this.uniformData);
    q.writeBuffer(this.idx, 0, rows.buffer, rows.byteOffset, n * 4);
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const d of this.steps) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.group);
      const [x, y] = d.workgroups(n);
      pass.dispatchWorkgroups(x, y);
    }
    pass.end();
    q.submit([enc.finish()]);
  }

  /** Reads 4 floats of the totals buffer: [Σ loss, correct, last batch's mean loss, –]. */
  private async readTotals(reset: boolean): Promise<Float32Array> {
    const read = this.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.totals, 0, read, 0, 16);
    if (reset) enc.clearBuffer(this.totals, 0, 8);
    this.device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(read.getMappedRange().slice(0));
    read.destroy();
    return out;
  }

  /** Σ loss and correct predictions since the last call (then zeroed). */
  async takeTotals(): Promise<{ loss: number; correct: number }> {
    const t = await this.readTotals(true);
    return { loss: t[0], correct: t[1] };
  }

  /** The last step's mean loss. */
  async lastLoss(): Promise<number> {
    return (await this.readTotals(false))[2];
  }

  /** Writes the trained weights back into the model's variables. */
  async sync(): Promise<void> {
    const size = this.offsets[this.offsets.length - 1] * 4;
    const read = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.weights, 0, read, 0, size);
    this.device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const flat = new Float32Array(read.getMappedRange().slice(0));
    read.destroy();
    this.vars.forEach((v, i) => {
      const t = tf.tensor(flat.subarray(this.offsets[i], this.offsets[i] + v.size), v.shape, 'float32');
      v.assign(t);
      t.dispose();
    });
  }

  dispose(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers.length = 0;
  }
}
