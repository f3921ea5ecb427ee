// Validation of an uploaded TF.js Layers model: model.json must be a Layers topology with a weights
// manifest, and the uploaded shards must be exactly the files the manifest names, with exactly the bytes
// its weight specs add up to.
import path from 'node:path/posix';
import { AppError } from '../../errors.ts';

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}
export interface WeightsGroup {
  paths: string[];
  weights: WeightSpec[];
}
export interface LayersModelJson {
  format?: string;
  modelTopology: { class_name?: string; config?: unknown; model_config?: { class_name?: string; config?: unknown } };
  weightsManifest: WeightsGroup[];
  [key: string]: unknown;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int16: 2, int8: 1, complex64: 8 };

/** Bytes a weight occupies in its shard (quantized weights are stored in their quantized dtype). */
export function weightBytes(w: WeightSpec): number {
  const dtype = w.quantization?.dtype ?? w.dtype;
  const per = BYTES[dtype];
  if (!per) throw new AppError('INVALID_MODEL', `weight ${w.name} has unsupported dtype ${dtype}`, { weight: w.name });
  return w.shape.reduce((a, b) => a * b, 1) * per;
}

export const weightCount = (w: WeightSpec) => w.shape.reduce((a, b) => a * b, 1);

export function parseModelJson(buf: Buffer): LayersModelJson {
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new AppError('INVALID_MODEL', `model.json is not valid JSON: ${(err as Error).message}`);
  }
  const m = json as Partial<LayersModelJson> | null;
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new AppError('INVALID_MODEL', 'model.json must be a JSON object');
  if (m.format !== undefined && m.format !== 'layers-model') {
    throw new AppError('INVALID_MODEL', `model.json has format "${String(m.format)}"; only TF.js Layers models ("layers-model") are supported`, {
      format: m.format,
    });
  }
  const topo = m.modelTopology;
  if (!topo || typeof topo !== 'object') throw new AppError('INVALID_MODEL', 'model.json has no modelTopology: not a TF.js Layers model');
  const cls = topo.class_name ?? topo.model_config?.class_name;
  if (cls !== 'Sequential' && cls !== 'Model' && cls !== 'Functional') {
    throw new AppError(
      'INVALID_MODEL',
      `modelTopology.class_name must be Sequential, Model or Functional (a Layers model), got ${JSON.stringify(cls ?? null)}`,
    );
  }
  if (!Array.isArray(m.weightsManifest)) throw new AppError('INVALID_MODEL', 'model.json has no weightsManifest array');
  for (const [gi, g] of m.weightsManifest.entries()) {
    if (!g || !Array.isArray(g.paths) || !Array.isArray(g.weights) || !g.paths.every((p) => typeof p === 'string')) {
      throw new AppError('INVALID_MODEL', `weightsManifest[${gi}] must have "paths" (strings) and "weights" arrays`);
    }
    for (const [wi, w] of g.weights.entries()) {
      if (
        !w ||
        typeof w.name !== 'string' ||
        typeof w.dtype !== 'string' ||
        !Array.isArray(w.shape) ||
        !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)
      ) {
        throw new AppError('INVALID_MODEL', `weightsManifest[${gi}].weights[${wi}] must have name, dtype and a shape of non-negative integers`);
      }
    }
  }
  return m as LayersModelJson;
}

export interface UploadedFileRef {
  path: string;
  sizeBytes: number;
}

/**
 * Checks the shard files against the manifest. `modelJsonPath` is where model.json sits among the uploaded
 * files: manifest paths are relative to it. Returns the total parameter count.
 */
export function checkWeightFiles(model: LayersModelJson, modelJsonPath: string, files: UploadedFileRef[]): { params: number } {
  const dir = path.dirname(modelJsonPath);
  const byPath = new Map(files.map((f) => [f.path, f]));
  let params = 0;
  for (const [gi, group] of model.weightsManifest.entries()) {
    const expected = group.weights.reduce((s, w) => s + weightBytes(w), 0);
    params += group.weights.reduce((s, w) => s + weightCount(w), 0);
    let actual = 0;
    for (const p of group.paths) {
      const resolved = path.normalize(dir === '.' ? p : path.join(dir, p));
      const f = byPath.get(resolved);
      if (!f) throw new AppError('MISSING_WEIGHTS', `weight file "${p}" named by weightsManifest[${gi}] was not uploaded`, { path: p });
      actual += f.sizeBytes;
    }
    if (actual !== expected) {
      throw new AppError('WEIGHTS_MISMATCH', `weightsManifest[${gi}] needs ${expected} bytes of weights but its files hold ${actual}`, {
        group: gi,
        expectedBytes: expected,
        actualBytes: actual,
      });
    }
  }
  return { params };
}

const shapeKey = (shape: readonly number[]) => `[${shape.join(',')}]`;

/**
 * The manifest must hold exactly the weights the topology builds (compared as a multiset of shapes: tfjs' scoped
 * names are not known without building weights). A tiny manifest under a huge topology is refused here.
 */
export function checkManifestShapes(model: LayersModelJson, topologyShapes: number[][]): void {
  const want = new Map<string, number>();
  for (const s of topologyShapes) want.set(shapeKey(s), (want.get(shapeKey(s)) ?? 0) + 1);
  for (const g of model.weightsManifest) {
    for (const w of g.weights) {
      const k = shapeKey(w.shape);
      const n = want.get(k) ?? 0;
      if (n === 0) {
        throw new AppError('WEIGHTS_MISMATCH', `weight ${w.name} ${k} in the manifest matches no weight of the topology`, {
          weight: w.name,
          shape: w.shape,
        });
      }
      want.set(k, n - 1);
    }
  }
  const missing = [...want].find(([, n]) => n > 0);
  if (missing) {
    throw new AppError('MISSING_WEIGHTS', `the topology has a weight of shape ${missing[0]} that the weights manifest does not hold`, {
      shape: missing[0],
    });
  }
}

/** Every uploaded file must be model.json, a shard its manifest names, or an original kept under source/. */
export function checkNoStrayFiles(model: LayersModelJson, modelJsonPath: string, files: UploadedFileRef[]): void {
  const dir = path.dirname(modelJsonPath);
  const named = new Set(model.weightsManifest.flatMap((g) => g.paths.map((p) => path.normalize(dir === '.' ? p : path.join(dir, p)))));
  const stray = files.find((f) => f.path !== modelJsonPath && !named.has(f.path) && !f.path.startsWith('source/'));
  if (stray) {
    throw new AppError('INVALID_MODEL', `unexpected file ${stray.path}: not model.json and not named by its weightsManifest`, { path: stray.path });
  }
}
