// TF.js Layers models ⇄ the object store, through custom IOHandlers (no temp files). The on-store layout is
// exactly tfjs's own: model.json (topology + weightsManifest [{paths, weights}]) and group1-shard{i}of{N}.bin
// files holding the concatenated weight bytes, so stock tf.loadLayersModel reads what we write and vice versa.
// Weight specs may carry `quantization` (uint8/uint16 affine, float16): tfjs's decodeWeights dequantizes them.
import path from 'node:path/posix';
import type { Readable } from 'node:stream';
import { AppError } from '../errors.ts';
import type { ObjectStore, PutResult } from '../storage/object-store.ts';
import './layers/index.ts'; // registers the Keras layer classes tfjs lacks, before any model loads
import { compactTopology } from './compact-topology.ts';
import { tf } from './tf.ts';

export interface ModelFileRef {
  /** Path inside the model's file set, e.g. "model.json" or "weights/group1-shard1of1.bin". */
  path: string;
  objectKey: string;
}

export interface ModelFile {
  path: string;
  data: Buffer;
}

/** What serializeModel returns: model.json's content minus its manifest, the specs and the joined weight bytes. */
export interface SerializedModel {
  modelJson: Omit<tf.io.ModelJSON, 'weightsManifest'>;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
  /** The same content as tfjs ModelArtifacts (weightData joined into one ArrayBuffer). */
  artifacts: tf.io.ModelArtifacts;
}

export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** Bytes one weight occupies in the weight data (its quantized dtype when quantized). */
export function weightSpecBytes(spec: tf.io.WeightsManifestEntry): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const size = BYTES_PER_ELEMENT[dtype];
  if (size === undefined) throw new AppError('INVALID_MODEL', `weight ${spec.name}: unsupported dtype ${dtype}`);
  return spec.shape.reduce((a, b) => a * b, 1) * size;
}

function findModelJson(files: ModelFileRef[]): ModelFileRef {
  // source/ holds the original upload of a converted model (it may hold a model.json of its own).
  const candidates = files.filter((f) => !f.path.startsWith('source/') && (f.path === 'model.json' || f.path.endsWith('/model.json')));
  if (candidates.length !== 1) {
    throw new AppError(
      'INVALID_MODEL',
      candidates.length === 0 ? 'no model.json among the model files' : 'more than one model.json among the model files',
    );
  }
  return candidates[0];
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/**
 * Reads model.json and every shard its manifest names (paths relative to model.json) and returns tfjs
 * ModelArtifacts with the shards concatenated in manifest order. Errors: INVALID_MODEL (no/bad model.json),
 * MISSING_WEIGHTS (a shard is not among `files`), WEIGHTS_MISMATCH (bytes differ from what the specs need).
 */
export async function loadArtifactsFromStore(store: ObjectStore, files: ModelFileRef[]): Promise<tf.io.ModelArtifacts> {
  const jsonRef = findModelJson(files);
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse((await store.getBuffer(jsonRef.objectKey)).toString('utf8')) as tf.io.ModelJSON;
  } catch (e) {
    throw new AppError('INVALID_MODEL', `model.json is not valid JSON: ${(e as Error).message}`);
  }
  if (
    typeof modelJson !== 'object' ||
    modelJson === null ||
    typeof modelJson.modelTopology !== 'object' ||
    !Array.isArray(modelJson.weightsManifest)
  ) {
    throw new AppError('INVALID_MODEL', 'model.json needs a modelTopology object and a weightsManifest array');
  }
  const byPath = new Map(files.map((f) => [path.normalize(f.path), f.objectKey]));
  const baseDir = path.dirname(jsonRef.path);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of modelJson.weightsManifest) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights))
      throw new AppError('INVALID_MODEL', 'weightsManifest groups need paths and weights arrays');
    for (const shardPath of group.paths) {
      const resolved = path.normalize(path.join(baseDir, shardPath));
      const key = byPath.get(resolved);
      if (key === undefined) throw new AppError('MISSING_WEIGHTS', `weight file ${shardPath} named by model.json is missing`, { path: shardPath });
      buffers.push(await readAll(await store.get(key)));
    }
    weightSpecs.push(...group.weights);
  }
  const weightData = Buffer.concat(buffers);
  const expected = weightSpecs.reduce((sum, spec) => sum + weightSpecBytes(spec), 0);
  if (expected !== weightData.byteLength) {
    throw new AppError('WEIGHTS_MISMATCH', `weight files hold ${weightData.byteLength} bytes, the manifest needs ${expected}`, {
      expectedBytes: expected,
      actualBytes: weightData.byteLength,
    });
  }
  return tf.io.getModelArtifactsForJSON(modelJson, async () => [weightSpecs, toArrayBuffer(weightData)]);
}

/** A LayersModel from artifacts (a load IOHandler, no files); tfjs failures become INVALID_MODEL. */
export async function loadModelFromArtifacts(artifacts: tf.io.ModelArtifacts): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel({ load: async () => artifacts });
  } catch (e) {
    throw new AppError('INVALID_MODEL', `not a loadable TF.js Layers model: ${(e as Error).message}`);
  }
}

export async function loadModelFromStore(store: ObjectStore, files: ModelFileRef[]): Promise<tf.LayersModel> {
  return loadModelFromArtifacts(await loadArtifactsFromStore(store, files));
}

/** Captures what model.save would write (topology, weight specs, weight bytes) through a custom save handler. */
export async function serializeModel(model: tf.LayersModel): Promise<SerializedModel> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  if (!captured) throw new AppError('INTERNAL', 'model.save produced no artifacts');
  const weightData = tf.io.CompositeArrayBuffer.join(captured.weightData ?? new ArrayBuffer(0));
  // What model.json will hold: the topology less what tfjs fills in itself (checked lossless; compact-topology.ts).
  const modelTopology =
    captured.modelTopology && !(captured.modelTopology instanceof ArrayBuffer)
      ? await compactTopology(captured.modelTopology)
      : captured.modelTopology;
  const artifacts: tf.io.ModelArtifacts = { ...captured, modelTopology, weightData };
  return { modelJson: modelJsonWithoutManifest(artifacts), weightSpecs: artifacts.weightSpecs ?? [], weightData, artifacts };
}

function modelJsonWithoutManifest(a: tf.io.ModelArtifacts): Omit<tf.io.ModelJSON, 'weightsManifest'> {
  const json: Omit<tf.io.ModelJSON, 'weightsManifest'> = { modelTopology: a.modelTopology as object };
  if (a.format !== undefined) json.format = a.format;
  if (a.generatedBy !== undefined) json.generatedBy = a.generatedBy;
  if (a.convertedBy != null) json.convertedBy = a.convertedBy; // tfjs writes null: "not converted" either way
  if (a.trainingConfig !== undefined) json.trainingConfig = a.trainingConfig;
  if (a.signature !== undefined) json.signature = a.signature;
  if (a.userDefinedMetadata !== undefined) json.userDefinedMetadata = a.userDefinedMetadata;
  if (a.modelInitializer !== undefined) json.modelInitializer = a.modelInitializer;
  if (a.initializerSignature !== undefined) json.initializerSignature = a.initializerSignature;
  return json;
}

/**
 * The files tfjs itself would write for `artifacts`: model.json plus group1-shard{i}of{N}.bin, the weight bytes
 * cut every `shardBytes` (a weight may straddle two shards; loaders concatenate a group's shards first).
 * Works for any artifacts, e.g. ones whose specs/data a quantizer rewrote.
 */
export function modelArtifactsToFiles(artifacts: tf.io.ModelArtifacts, shardBytes = DEFAULT_SHARD_BYTES): ModelFile[] {
  if (!Number.isInteger(shardBytes) || shardBytes < 1) throw new AppError('INTERNAL', `bad shard size ${shardBytes}`);
  const weightSpecs = artifacts.weightSpecs ?? [];
  const data = Buffer.from(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)));
  const expected = weightSpecs.reduce((sum, spec) => sum + weightSpecBytes(spec), 0);
  if (expected !== data.byteLength) {
    throw new AppError('WEIGHTS_MISMATCH', `weight data holds ${data.byteLength} bytes, the specs need ${expected}`);
  }
  const count = Math.max(1, Math.ceil(data.byteLength / shardBytes));
  const shards: ModelFile[] = [];
  for (let i = 0; i < count; i++) {
    shards.push({ path: `group1-shard${i + 1}of${count}.bin`, data: data.subarray(i * shardBytes, (i + 1) * shardBytes) });
  }
  const modelJson: tf.io.ModelJSON = {
    ...modelJsonWithoutManifest(artifacts),
    weightsManifest: [{ paths: shards.map((s) => s.path), weights: weightSpecs }],
  };
  return [{ path: 'model.json', data: Buffer.from(JSON.stringify(modelJson)) }, ...shards];
}

export async function modelToFiles(model: tf.LayersModel, shardBytes = DEFAULT_SHARD_BYTES): Promise<ModelFile[]> {
  return modelArtifactsToFiles((await serializeModel(model)).artifacts, shardBytes);
}

/** Writes `files` to the store under keyFor(path); returns the refs (for loadModelFromStore) with size and sha256. */
export async function saveFilesToStore(
  store: ObjectStore,
  files: ModelFile[],
  keyFor: (filePath: string) => string,
): Promise<(ModelFileRef & PutResult)[]> {
  const saved: (ModelFileRef & PutResult)[] = [];
  for (const file of files) {
    const objectKey = keyFor(file.path);
    const result = await store.put(objectKey, file.data, {
      contentType: file.path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
    });
    saved.push({ path: file.path, objectKey, ...result });
  }
  return saved;
}
