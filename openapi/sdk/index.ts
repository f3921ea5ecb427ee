// modelpress TypeScript SDK: a typed openapi-fetch client over the generated schema.d.ts (`npm run sdk`), plus
// helpers for what a typed fetch alone makes clumsy: multipart uploads, waiting for a job, binary downloads.
// Every call through `api` is typed from openapi/openapi.json: paths, params, bodies and responses.
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.d.ts';

export type { components, paths };
export type Model = components['schemas']['Model'];
export type Dataset = components['schemas']['Dataset'];
export type Job = components['schemas']['Job'];
export type Problem = components['schemas']['Problem'];
/** One of the per-kind bodies (CreateJobRequest: a oneOf discriminated by `type`, params typed per kind). */
export type CreateJobBody = paths['/v1/jobs']['post']['requestBody']['content']['application/json'];
export type DatasetFormat = NonNullable<paths['/v1/datasets']['post']['requestBody']['content']['multipart/form-data']['format']>;
export type JobStatus = Job['status'];

/** One file part of an upload; `name` is the file name the server sees (e.g. model.json). */
export interface UploadFile {
  name: string;
  data: Blob | Uint8Array | string;
}

/** A non-2xx answer: the status and, when the server sent one, its problem document (stable `code`). */
export class ModelpressError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(problem ? `${status} ${problem.code}: ${problem.detail ?? problem.title}` : `HTTP ${status}`);
    this.name = 'ModelpressError';
  }
}

export interface ClientOptions {
  /** Sent as `Authorization: Bearer <apiKey>` (needed when the server runs with MODELPRESS_AUTH on). */
  apiKey?: string;
  /** Replaces the global fetch (tests, proxies). */
  fetch?: typeof fetch;
}

export interface WaitOptions {
  /** Give up after this long (default 10 minutes). */
  timeoutMs?: number;
  /** Poll interval (default 500 ms). */
  intervalMs?: number;
  signal?: AbortSignal;
}

const TERMINAL: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];

const toFile = (f: UploadFile) => new File([typeof f.data === 'string' || f.data instanceof Blob ? f.data : new Uint8Array(f.data)], f.name);

/** Multipart body: text fields first (the server reads them before the files stream), then each file part. */
function formData(fields: Record<string, string | undefined>, files: File[]): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.append(k, v);
  for (const f of files) form.append('files', f, f.name);
  return form;
}

/** `data` of a 2xx answer, else a ModelpressError carrying the problem document. */
function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data !== undefined && result.response.ok) return result.data;
  throw new ModelpressError(result.response.status, result.error as Problem | undefined);
}

export function createModelpressClient(baseUrl: string, opts: ClientOptions = {}) {
  const api: Client<paths> = createClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ''),
    headers: opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : undefined,
    fetch: opts.fetch,
  });

  async function getJob(id: string): Promise<Job> {
    return unwrap(await api.GET('/v1/jobs/{id}', { params: { path: { id } } }));
  }

  return {
    /** The typed openapi-fetch client: api.GET('/v1/models', { params: { query: { limit: 20 } } }) etc. */
    api,

    async uploadModel(input: { name?: string; files: UploadFile[] }): Promise<Model> {
      const files = input.files.map(toFile);
      return unwrap(
        await api.POST('/v1/models', { body: { name: input.name, files }, bodySerializer: (b) => formData({ name: b.name }, b.files as File[]) }),
      );
    },

    async uploadDataset(input: { name?: string; format?: DatasetFormat; labelColumn?: string; files: UploadFile[] }): Promise<Dataset> {
      const files = input.files.map(toFile);
      const body = { name: input.name, format: input.format, labelColumn: input.labelColumn, files };
      return unwrap(
        await api.POST('/v1/datasets', {
          body,
          bodySerializer: (b) => formData({ name: b.name, format: b.format, labelColumn: b.labelColumn }, b.files as File[]),
        }),
      );
    },

    async createJob(body: CreateJobBody, options: { idempotencyKey?: string } = {}): Promise<Job> {
      return unwrap(await api.POST('/v1/jobs', { body, params: { header: { 'idempotency-key': options.idempotencyKey } } }));
    },

    getJob,

    /** Polls until the job is succeeded, failed or canceled and returns it (check `status` and `error`). */
    async waitForJob(id: string, options: WaitOptions = {}): Promise<Job> {
      const deadline = Date.now() + (options.timeoutMs ?? 600_000);
      for (;;) {
        const job = await getJob(id);
        if (TERMINAL.includes(job.status)) return job;
        if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${options.timeoutMs ?? 600_000} ms`);
        options.signal?.throwIfAborted();
        await new Promise((r) => setTimeout(r, options.intervalMs ?? 500));
      }
    },

    /** One stored file of a model (e.g. model.json or a weight shard), as bytes. */
    async downloadModelFile(id: string, path: string): Promise<Uint8Array> {
      const res = await api.GET('/v1/models/{id}/files/{path}', { params: { path: { id, path } }, parseAs: 'arrayBuffer' });
      return new Uint8Array(unwrap(res));
    },

    /** The whole model as one .zip (model.json + shards). */
    async downloadModelArchive(id: string): Promise<Uint8Array> {
      return new Uint8Array(unwrap(await api.GET('/v1/models/{id}/archive', { params: { path: { id } }, parseAs: 'arrayBuffer' })));
    },
  };
}

export type ModelpressClient = ReturnType<typeof createModelpressClient>;
