// The one small interface every job kind implements (src/jobs/kinds/<type>.ts), and the context the
// worker hands it: progress, metrics, logs, cancellation, the compute backend and the domain services.
import type { TSchema, Static } from 'typebox';
import type { Config } from '../config.ts';
import type { Services } from '../runtime.ts';
import type { ObjectStore } from '../storage/object-store.ts';

export type JobType = 'train' | 'evaluate' | 'prune' | 'distill' | 'quantize' | 'pipeline' | 'noop';

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

export interface JobContext {
  readonly jobId: string;
  readonly attempt: number;
  readonly inputs: JobInputs;
  readonly services: Services;
  readonly store: ObjectStore;
  readonly config: Config;
  /** Name of the active tfjs backend ("wasm", "webgpu", "tensorflow", "cpu"). */
  readonly backend: string;
  /** Aborted when the job is canceled or the worker shuts down. */
  readonly signal: AbortSignal;
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

export interface JobKind<S extends TSchema = TSchema> {
  readonly type: JobType;
  /** JSON schema of `params` (defaults applied); validation errors name the failing field. */
  readonly paramsSchema: S;
  /** Which inputs a job of this kind needs; checked (and existence verified) at creation. */
  readonly requires: { model?: boolean; dataset?: boolean; teacherModel?: boolean };
  /**
   * Extra checks beyond the schema (e.g. a pipeline's step params); throw AppError('INVALID_JOB_PARAMS', …, { field }).
   * `field` is where the params sit ("params", or "params.steps[i].params" for a pipeline step).
   */
  validate?(params: Static<S>, inputs: JobInputs, facts: ValidationFacts, field: string): void | Promise<void>;
  run(ctx: JobContext, params: Static<S>): Promise<JobResult>;
}
