// `modelpress worker` / `npm run worker`: a worker process. It joins the database of the configuration (or a
// running embedded server's), claims jobs until SIGTERM/SIGINT, then stops claiming, lets running jobs finish
// within a grace period, requeues the rest, and exits. A job that ran out of memory makes it exit with status 75
// after recording that job as RESOURCE_LIMIT, so a fresh process takes the next job.
import type { Config } from '../config.ts';
import { createRuntime } from '../runtime.ts';
import { RECYCLE_EXIT_CODE } from './resource-failure.ts';
import { Worker } from './worker.ts';

/** How long a stopping worker lets running jobs finish before interrupting (and requeueing) them. */
const SHUTDOWN_GRACE_MS = 5000;

export async function runWorkerProcess(config: Config, opts: { concurrency?: number } = {}): Promise<void> {
  if (opts.concurrency !== undefined && (!Number.isInteger(opts.concurrency) || opts.concurrency < 1 || opts.concurrency > 64)) {
    console.error(`--concurrency must be an integer between 1 and 64, got ${opts.concurrency}`);
    process.exit(2);
  }
  const runtime = await createRuntime(config, { joinEmbedded: true });
  if (runtime.embedded) {
    console.warn(`no DATABASE_URL and no running embedded server for ${config.dbDir}: this worker started its own embedded database`);
  }
  let stopping = false;
  const shutdown = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    console.log(JSON.stringify({ level: 'info', msg: 'worker shutting down', signal, workerId: worker.id }));
    await worker.stop({ graceMs: SHUTDOWN_GRACE_MS });
    await runtime.close();
    process.exit(exitCode);
  };
  // A job that exhausted memory leaves the backend's heap unusable: the process exits with RECYCLE_EXIT_CODE and
  // is started afresh (by the supervisor of `npm start`, or the container's restart policy).
  const worker = new Worker(runtime, { concurrency: opts.concurrency, onRecycle: () => void shutdown('recycle', RECYCLE_EXIT_CODE) });
  await worker.start();
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
