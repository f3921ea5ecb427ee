// The one small interface every job kind implements (src/jobs/kinds/<type>.ts, listed in registry.ts), and the
// context the worker hands a run of it: model and dataset I/O, progress, metric and log sinks, cancellation and the
// compute backend's name — nothing else of the service (no runtime, no services, no store, no config).
// A kind declares everything the rest of the service derives from it: its params schema (REST/GraphQL validation,
// OpenAPI), its inputs, whether it trains and what it needs (resource guards), whether it may be a pipeline step.
import type { TSchema, Static } from 'typebox';
import type { Architecture } from '../ml/architectures.ts';
import type { SplitTensors } from '../ml/dataset.ts';
import type { tf } from '../ml/tf.ts';
import type { DatasetDto } from '../schemas/dataset.ts';
import type { ModelDto } from '../schemas/model.ts';
import type { AppliedPreprocessing } from '../schemas/preprocessing.ts';

/** A kind's name: the `type` of its jobs in REST, GraphQL and the database (lowerCamel: a valid GraphQL enum value). */
export type JobType = string;

export interface JobInputs {
  modelId: string | null;
  teacherModelId: string | null;
  datasetId: string | null;
}

export interface JobProgress {
  /** 0..1 */
  fraction: number;
  epoch?: number;
  step?: number;
  etaSeconds?: number;
}

export interface MetricInput {
  name: string;
  step: number;
  epoch?: number;
  value: number;
}

export interface SaveModelOptions {
  name: string;
  parentModelId?: string | null;
  report?: Record<string, unknown> | null;
}

/** A job's access to stored models. */
export interface ModelIO {
  /** The model's record (name, parameter count, lineage, …). */
  get(id: string): Promise<ModelDto>;
  /** Its TF.js artifacts as stored (topology, weight specs, weight bytes, e.g. still quantized). */
  loadArtifacts(id: string): Promise<tf.io.ModelArtifacts>;
  /** A live model (the caller disposes it). */
  load(id: string): Promise<tf.LayersModel>;
  /** Stores a model (live, or artifacts e.g. quantized) as a new model produced by this job. */
  save(model: tf.LayersModel | tf.io.ModelArtifacts, opts: SaveModelOptions): Promise<ModelDto>;
}

/** A dataset opened for reading its tensors. */
export interface DatasetTensors {
  readonly dataset: DatasetDto;
  readonly hasTest: boolean;
  /** What the splits are fed as: the model's declared preprocessing over the dataset normalization. */
  readonly preprocessing: AppliedPreprocessing;
  /** The split's float32 x (preprocessed) and one-hot y, the first `limit` rows; the caller disposes them. */
  load(split: 'train' | 'test', opts?: { limit?: number }): Promise<SplitTensors>;
}

/** A job's access to stored datasets. */
export interface DatasetIO {
  get(id: string): Promise<DatasetDto>;
  /** With `modelId`, the splits come preprocessed as that model expects (see src/jobs/io.ts). */
  open(id: string, opts?: { modelId?: string | null }): Promise<DatasetTensors>;
}

export interface JobContext {
  readonly jobId: string;
  readonly attempt: number;
  readonly inputs: JobInputs;
  readonly models: ModelIO;
  readonly datasets: DatasetIO;
  /** Name of the active tfjs backend ("wasm", "webgpu", "tensorflow", "cpu"). */
  readonly backend: string;
  /** Aborted when the job is canceled or the worker shuts down. */
  readonly signal: AbortSignal;
  /** Data-parallel threads a training step may use (MODELPRESS_TRAIN_THREADS; runTraining applies it). */
  readonly trainThreads: number;
  /** trainThreads is the default, an upper bound: trainings measure whether the threads pay off (config.ts). */
  readonly trainThreadsAuto?: boolean;
  progress(p: JobProgress): void;
  metrics(points: MetricInput[]): void;
  log(message: string, level?: 'debug' | 'info' | 'warn' | 'error', data?: Record<string, unknown>): void;
  /** Throws the cancellation error when the job was canceled: call it once per batch/step. */
  throwIfCanceled(): void;
}

export interface JobResult {
  resultModelIds: string[];
  report: Record<string, unknown> | null;
}

/** Stored facts of a job's inputs that a kind may check at creation (no tensors are read). */
export interface ValidationFacts {
  dataset: { name: string; trainExamples: number; testExamples: number } | null;
}

/**
 * Facts of a job's models and dataset that resource estimates read (0 for an input the job does not name). The
 * model's are those of the model the job will build when it has no input model (kind.builds), measured without
 * weights; otherwise from the stored rows. No tensor is read.
 */
export interface ResourceFacts {
  modelParams: number;
  teacherParams: number;
  /** Floats of all layer outputs per example (activation memory, ×batch size). */
  modelActivations: number;
  teacherActivations: number;
  /** float32 bytes of the dataset's feature tensors plus labels. */
  datasetBytes: number;
}

/** What a job needs, checked at creation against the configured limits (422 RESOURCE_LIMIT). */
export interface ResourceDemand {
  /** Bytes of tensors at the job's peak. */
  bytes: number;
  /** Epoch counts in the params, with the field each sits in, checked against the epoch limit. */
  epochs: { field: string; value: number }[];
}

export interface JobKind<S extends TSchema = TSchema> {
  readonly type: JobType;
  /** JSON schema of `params` (defaults applied); validation errors name the failing field. */
  readonly paramsSchema: S;
  /** Which inputs a job of this kind needs; checked (and existence verified) at creation. */
  readonly requires: { model?: boolean; dataset?: boolean; teacherModel?: boolean };
  /** Whether the job trains a model: it then holds gradients and optimizer state too (the default estimate). */
  readonly trains: boolean;
  /** Params that count epochs (e.g. ['epochs']): the default estimate checks them against the epoch limit. */
  readonly epochParams?: readonly string[];
  /**
   * Present when the kind may be a pipeline step: the previous step's output model becomes this input of the step
   * (the job's dataset is the step's dataset).
   */
  readonly pipelineStep?: { input: 'model' | 'teacherModel' };
  /**
   * The model the job builds instead of loading one (a train job's preset or layer spec, a distill job's student),
   * given its inputs; `teacher` for a student narrowed from the teacher (never larger). The resource guard measures
   * it (shape-only) for the params limit and the estimate. `field` names the param in errors.
   */
  builds?(params: Static<S>, inputs: JobInputs): { architecture: Architecture; field: string } | 'teacher' | null;
  /**
   * What a job needs, from its params and the facts of its inputs; without it, the registry's default: model params
   * × (16 bytes when it trains, else 8) + teacher params × 4 + dataset bytes + activations (batchSize × 4 bytes ×
   * the model's activation floats, twice when training, plus the teacher's), and `epochParams`.
   * `field` is where the params sit (as in validate).
   */
  estimate?(params: Static<S>, facts: ResourceFacts, field: string): ResourceDemand;
  /** Runs after the schema's defaults are applied; returns the params to store (a pipeline normalizes its steps here). */
  normalize?(params: Static<S>, field: string): Static<S>;
  /**
   * Extra checks beyond the schema (e.g. a pipeline's step params); throw AppError('INVALID_JOB_PARAMS', …, { field }).
   * `field` is where the params sit ("params", or "params.steps[i].params" for a pipeline step).
   */
  validate?(params: Static<S>, inputs: JobInputs, facts: ValidationFacts, field: string): void | Promise<void>;
  run(ctx: JobContext, params: Static<S>): Promise<JobResult>;
}
