// `modelpress worker` / `npm run worker`: a worker process. It joins the database of the configuration (or a
// running embedded server's), claims jobs until SIGTERM/SIGINT, then stops claiming, lets running jobs finish
// within a grace period, requeues the rest, and exits.
import type { Config } from '../config.ts';
import { createRuntime } from '../runtime.ts';
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
  const worker = new Worker(runtime, { concurrency: opts.concurrency });
  await worker.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(JSON.stringify({ level: 'info', msg: 'worker shutting down', signal, workerId: worker.id }));
    await worker.stop({ graceMs: SHUTDOWN_GRACE_MS });
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
