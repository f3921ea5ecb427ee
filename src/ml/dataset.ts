// Dataset tensors for training and evaluation. Canonical storage per split: `<split>-x.npy` (uint8 or float32,
// [n, ...featureShape]) and `<split>-y.npy` (int32 [n] class ids), read from the object store with src/formats/npy.ts.
import type { Readable } from 'node:stream';
import { AppError } from '../errors.ts';
import { npyHeaderLength, npyTypedArray, parseNpyHeader, type NpyHeader } from '../formats/npy.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { tf } from './tf.ts';

export interface Normalization {
  /** Model input = raw * scale + offset (e.g. 1/255 and 0 for bytes). */
  scale: number;
  offset: number;
}

export interface LoadSplitOptions {
  /** Only the first `limit` examples. */
  limit?: number;
  normalization: Normalization;
  /** Per-channel standardization after normalization: (x − mean[c]) / std[c], c the last axis of image examples. */
  channels?: { mean: number[]; std: number[] } | null;
  numClasses: number;
}

export interface SplitTensors {
  /** float32 [n, ...featureShape] */
  x: tf.Tensor;
  /** one-hot float32 [n, numClasses] */
  y: tf.Tensor2D;
  /** class ids, for confusion matrices without reading y back */
  labels: Int32Array;
  n: number;
}

const invalid = (key: string, msg: string) => new AppError('INVALID_DATASET', `${key}: ${msg}`, { objectKey: key });

/** Reads an .npy object, stopping after the first `rows` rows when given (the rest is never downloaded). */
async function readNpy(store: ObjectStore, key: string, rows?: number): Promise<{ header: NpyHeader; n: number; data: Buffer }> {
  const stream: Readable = await store.get(key);
  const chunks: Buffer[] = [];
  let have = 0;
  let header: NpyHeader | null = null;
  let needed = Infinity;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      have += (chunk as Buffer).length;
      if (!header) {
        const head = Buffer.concat(chunks);
        const len = npyHeaderLength(head);
        if (len === null || head.length < len) continue;
        header = parseNpyHeader(head);
        const total = header.shape[0] ?? 0;
        const take = rows === undefined ? total : Math.min(rows, total);
        needed = header.dataOffset + (total === 0 ? 0 : (header.dataBytes / total) * take);
      }
      if (have >= needed) break;
    }
  } finally {
    stream.destroy();
  }
  if (!header) throw invalid(key, 'truncated .npy header');
  if (have < needed) throw invalid(key, `file ends after ${have} bytes, its header promises ${header.dataOffset + header.dataBytes}`);
  if (header.shape.length === 0) throw invalid(key, 'a dataset array needs a leading example axis');
  const all = Buffer.concat(chunks);
  const n = rows === undefined ? header.shape[0] : Math.min(rows, header.shape[0]);
  return { header, n, data: all.subarray(header.dataOffset, needed) };
}

/**
 * Loads one split as float32 inputs (raw * scale + offset) and one-hot labels. Errors: INVALID_DATASET when the
 * files are malformed, disagree on the example count, or hold a class id outside [0, numClasses).
 */
export async function loadSplit(store: ObjectStore, objectKeys: { x: string; y: string }, opts: LoadSplitOptions): Promise<SplitTensors> {
  const { numClasses, normalization } = opts;
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) {
    throw new AppError('INVALID_JOB_PARAMS', 'limit must be a positive integer', { field: 'limit' });
  }
  const [xs, ys] = await Promise.all([readNpy(store, objectKeys.x, opts.limit), readNpy(store, objectKeys.y, opts.limit)]);
  if (ys.header.shape.length !== 1) throw invalid(objectKeys.y, `labels must be 1-D, got shape (${ys.header.shape})`);
  if (xs.header.shape[0] !== ys.header.shape[0]) {
    throw invalid(objectKeys.x, `${xs.header.shape[0]} examples but ${ys.header.shape[0]} labels`);
  }
  const n = xs.n;
  if (xs.header.dtype === 'int64') throw invalid(objectKeys.x, 'int64 inputs are not supported');
  const raw = npyTypedArray(xs.header.dtype, xs.data) as Exclude<ReturnType<typeof npyTypedArray>, BigInt64Array>;
  const features = new Float32Array(raw.length);
  const { scale, offset } = normalization;
  if (opts.channels) {
    const featureShape = xs.header.shape.slice(1);
    const c = featureShape.length >= 3 ? featureShape[featureShape.length - 1] : 1;
    const { mean, std } = opts.channels;
    const at = (v: number[], k: number) => (v.length === 1 ? v[0] : v[k]);
    if ((mean.length !== 1 && mean.length !== c) || (std.length !== 1 && std.length !== c)) {
      throw new AppError('INCOMPATIBLE_INPUTS', `preprocessing gives ${mean.length} means and ${std.length} stds; the examples have ${c} channels`, {
        channels: c,
      });
    }
    const shift = Float32Array.from({ length: c }, (_, k) => at(mean, k));
    const div = Float32Array.from({ length: c }, (_, k) => at(std, k));
    for (let i = 0; i < raw.length; i++) features[i] = (raw[i] * scale + offset - shift[i % c]) / div[i % c];
  } else {
    for (let i = 0; i < raw.length; i++) features[i] = raw[i] * scale + offset;
  }

  const rawLabels = npyTypedArray(ys.header.dtype, ys.data);
  if (ys.header.dtype === 'float32' || ys.header.dtype === 'float64' || ys.header.dtype === 'bool') {
    throw invalid(objectKeys.y, `labels must be integer class ids, got ${ys.header.dtype}`);
  }
  const labels = new Int32Array(n);
  const oneHot = new Float32Array(n * numClasses);
  for (let i = 0; i < n; i++) {
    const id = Number(rawLabels[i]);
    if (!(id >= 0 && id < numClasses)) throw invalid(objectKeys.y, `label ${id} at row ${i} is outside [0, ${numClasses})`);
    labels[i] = id;
    oneHot[i * numClasses + id] = 1;
  }
  return {
    x: tf.tensor(features, [n, ...xs.header.shape.slice(1)], 'float32'),
    y: tf.tensor2d(oneHot, [n, numClasses], 'float32'),
    labels,
    n,
  };
}

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic permutation of 0..n-1 (Fisher–Yates driven by mulberry32(seed)). */
export function seededShuffle(n: number, seed: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rand = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Splits 0..n-1 at random (seeded) into train and validation indices; validation gets round(n * validationSplit). */
export function trainValSplit(n: number, validationSplit: number, seed: number): { train: Int32Array; val: Int32Array } {
  if (!(validationSplit >= 0 && validationSplit < 1)) {
    throw new AppError('INVALID_JOB_PARAMS', 'validationSplit must be in [0, 1)', { field: 'validationSplit' });
  }
  const order = seededShuffle(n, seed);
  const nVal = Math.round(n * validationSplit);
  // Sorted so gathers read memory in order; the training loop reshuffles per epoch anyway.
  return { train: order.slice(nVal).sort(), val: order.slice(0, nVal).sort() };
}

export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor;
  size: number;
}

type HeapBackend = {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  dataIdMap: { has(id: object): boolean };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
};

/**
 * Rows `rows` of `t` as a new tensor. tf.gather works everywhere; on wasm, float32 rows are copied straight out of
 * the heap instead (one memcpy per row), ~10x faster than wasm's element-wise Gather for image batches.
 * Never tf.slice: tfjs-backend-wasm's Slice copies the WHOLE source tensor out of the heap on every call.
 */
export function takeRows<T extends tf.Tensor>(t: T, rows: Int32Array): T {
  const backend = tf.backend() as unknown as Partial<HeapBackend>;
  if (t.dtype === 'float32' && backend.typedArrayFromHeap && backend.makeOutput && backend.dataIdMap?.has(t.dataId)) {
    const rowLen = t.shape[0] === 0 ? 0 : t.size / t.shape[0];
    // The output is allocated on the heap and the rows copied into it: no intermediate JS array (one copy, not two).
    const info = backend.makeOutput([rows.length, ...t.shape.slice(1)], 'float32');
    const src = backend.typedArrayFromHeap(t); // views after the allocation: growing wasm memory detaches older ones
    const out = backend.typedArrayFromHeap(info);
    for (let i = 0; i < rows.length; i++) out.set(src.subarray(rows[i] * rowLen, (rows[i] + 1) * rowLen), i * rowLen);
    return tf.engine().makeTensorFromTensorInfo(info) as T;
  }
  return tf.tidy(() => tf.gather(t, tf.tensor1d(rows, 'int32')));
}

/**
 * Yields batches of the rows `order` names (all rows in order when omitted). Each batch's tensors belong to the
 * caller, who disposes them; nothing else is left behind, so memory stays bounded by one batch.
 */
export function* batches(x: tf.Tensor, y: tf.Tensor, batchSize: number, order?: Int32Array): Generator<Batch> {
  const n = order ? order.length : x.shape[0];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const rows = order ? order.subarray(start, start + size) : Int32Array.from({ length: size }, (_, i) => start + i);
    yield { x: takeRows(x, rows), y: takeRows(y, rows), size };
  }
}
