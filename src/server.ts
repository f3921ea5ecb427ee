// `npm start`: database (embedded PGlite unless DATABASE_URL), migrations, object store, built-in datasets,
// the HTTP API, and in embedded mode a worker in a child process (jobs never run on the API's event loop).
// SIGINT/SIGTERM close everything in order (requests get a grace period, then are cut). Background: the orphan
// sweeper (at start and periodically) and the supervised worker.
import fs from 'node:fs/promises';
import type { Config } from './config.ts';
import { buildApp } from './http/app.ts';
import { redactUrl } from './db/embedded-postgres.ts';
import { startOrphanSweeper } from './domain/orphans.ts';
import { createRuntime, type Runtime } from './runtime.ts';
import type { WorkerLog } from './worker/job-run.ts';
import { WorkerSupervisor } from './worker/supervisor.ts';

export async function serve(config: Config) {
  await fs.mkdir(config.tmpDir, { recursive: true });
  const runtime = await createRuntime(config);
  const app = await buildApp(runtime);
  if (runtime.embedded) {
    app.log.warn(
      `embedded mode: PGlite database in ${config.dbDir} (${redactUrl(runtime.databaseUrl)}), objects in ${config.s3 ? 's3' : config.objectsDir}`,
    );
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
    // In-flight requests get MODELPRESS_SHUTDOWN_GRACE_SECONDS; a slower one (an upload trickling in) is cut then
    // instead of holding the shutdown for up to the request timeout. Its partial objects are removed by the upload's
    // own cleanup, or by the next start's orphan sweep.
    const cut = setTimeout(() => {
      app.log.warn({ graceMs: config.shutdownGraceMs }, 'requests still running after the shutdown grace period: closing their connections');
      app.server.closeAllConnections();
    }, config.shutdownGraceMs);
    cut.unref();
    await app.close(); // stops accepting, lets in-flight requests finish
    clearTimeout(cut);
    await hooks.stop();
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

/**
 * The orphan sweeper (src/domain/orphans.ts) always; and MODELPRESS_IN_PROCESS_WORKER (default: on in embedded mode) makes `npm start` run jobs too, in a worker child
 * process it supervises (restarted if it dies), so a training job never blocks a request.
 */
export async function startBackgroundServices(runtime: Runtime, log: WorkerLog, env?: Record<string, string | undefined>) {
  const sweeper = startOrphanSweeper(runtime, runtime.config.sweep, log);
  if (!runtime.config.worker.inProcess) return { supervisor: null, sweeper, stop: async () => sweeper.stop() };
  const supervisor = new WorkerSupervisor({ databaseUrl: runtime.databaseUrl, concurrency: runtime.config.worker.concurrency, log, env });
  await supervisor.start();
  return {
    supervisor,
    sweeper,
    stop: async () => {
      sweeper.stop();
      await supervisor.stop();
    },
  };
}
