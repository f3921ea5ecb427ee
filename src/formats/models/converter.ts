// Runs model imports and exports in one worker thread (conversion-worker.ts), started on first use and stopped
// after a quiet minute so the memory a big conversion grew (wasm heaps never shrink) goes back. The API's event
// loop only posts messages and awaits replies.
import type { Worker } from 'node:worker_threads';
import { startTsThread } from '../../ts-thread.ts';
import { AppError, ErrorCodes, type ErrorCode } from '../../errors.ts';
import type { tf } from '../../ml/tf.ts';
import type { ConversionReply, ConversionRequest } from './conversion-worker.ts';
import type { ExportOptions, ExportResult, ImportContext, ImportResult, LocalFile } from './types.ts';

const IDLE_MS = 60_000;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type Request = ConversionRequest extends infer R ? (R extends ConversionRequest ? Omit<R, 'id'> : never) : never;

class Converter {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private idleTimer: NodeJS.Timeout | null = null;

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = startTsThread(import.meta.url, 'conversion-worker');
    worker.on('message', (reply: ConversionReply) => this.settle(reply));
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      if (this.pending.size > 0) this.failAll(new Error(`conversion worker exited with code ${code}`));
    });
    this.worker = worker;
    return worker;
  }

  private settle(reply: ConversionReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else {
      const code = (reply.error.code in ErrorCodes ? reply.error.code : 'INTERNAL') as ErrorCode;
      p.reject(new AppError(code, reply.error.message, reply.error.details as Record<string, unknown> | undefined));
    }
    this.scheduleIdleStop();
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(new AppError('INTERNAL', `model conversion failed: ${err.message}`));
    this.pending.clear();
  }

  private scheduleIdleStop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.pending.size > 0) return;
    // An idle worker must not keep the process alive (CLI commands, tests, shutdown).
    this.worker?.unref();
    this.idleTimer = setTimeout(() => void this.stop(), IDLE_MS);
    this.idleTimer.unref();
  }

  run<T>(req: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    const worker = this.ensureWorker();
    worker.ref();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...req, id }, transfer);
    });
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

const converter = new Converter();

/** Imports `files` (spooled locally) as `format`, in the conversion worker. */
export const importInWorker = (format: string, files: LocalFile[], ctx: ImportContext) =>
  converter.run<ImportResult>({ op: 'import', format, files, ctx });

/** Exports a stored model's artifacts as `format`, in the conversion worker. */
export const exportInWorker = (format: string, artifacts: tf.io.ModelArtifacts, opts: ExportOptions) =>
  converter.run<ExportResult>({ op: 'export', format, artifacts, opts });

/** Stops the worker (tests and shutdown; it also stops by itself when idle). */
export const stopConverter = () => converter.stop();
