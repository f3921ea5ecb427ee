// `npm start`: database (embedded PGlite unless DATABASE_URL), migrations, object store, built-in datasets,
// the HTTP API, and in embedded mode a worker in a child process (jobs never run on the API's event loop).
// SIGINT/SIGTERM close everything in order.
import fs from 'node:fs/promises';
import type { Config } from './config.ts';
import { buildApp } from './http/app.ts';
import { createRuntime, type Runtime } from './runtime.ts';
import type { WorkerLog } from './worker/job-run.ts';
import { WorkerSupervisor } from './worker/supervisor.ts';

export async function serve(config: Config) {
  await fs.mkdir(config.tmpDir, { recursive: true });
  const runtime = await createRuntime(config);
  const app = await buildApp(runtime);
  if (runtime.embedded) {
    app.log.warn(`embedded mode: PGlite database in ${config.dbDir} (${runtime.databaseUrl}), objects in ${config.s3 ? 's3' : config.objectsDir}`);
  }
  if (config.registerBuiltins) {
    const t0 = Date.now();
    const mnist = await runtime.services.datasets.ensureBuiltins();
    if (mnist) app.log.info({ datasetId: mnist.id, ms: Date.now() - t0 }, 'built-in dataset mnist ready');
  }
  if (!config.security.auth) {
    app.log.warn(
      '!!! MODELPRESS_AUTH=off: NO API KEYS REQUIRED — anyone who can reach this port can read, upload, run jobs and manage keys. Only for a local, embedded setup.',
    );
  }
  const hooks = await startBackgroundServices(runtime, app.log);
  await app.listen({ host: config.host, port: config.port });

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    await app.close(); // stops accepting, lets in-flight requests finish
    await hooks.stop();
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

/**
 * MODELPRESS_IN_PROCESS_WORKER (default: on in embedded mode) makes `npm start` run jobs too, in a worker child
 * process it supervises (restarted if it dies), so a training job never blocks a request.
 */
export async function startBackgroundServices(runtime: Runtime, log: WorkerLog, env?: Record<string, string | undefined>) {
  if (!runtime.config.worker.inProcess) return { supervisor: null, stop: async () => {} };
  const supervisor = new WorkerSupervisor({ databaseUrl: runtime.databaseUrl, concurrency: runtime.config.worker.concurrency, log, env });
  await supervisor.start();
  return { supervisor, stop: () => supervisor.stop() };
}
