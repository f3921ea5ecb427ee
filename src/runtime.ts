// Composition root: turns a Config into live dependencies (database, object store, job queue and event feed,
// domain services). The API server, the worker process and the tests all start from here, so they run the same wiring.
import type { Config } from './config.ts';
import { findRunningEmbedded, startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded-postgres.ts';
import { applyMigrations } from './db/migrate.ts';
import { createPrisma, type Db } from './db/prisma.ts';
import { DatasetService } from './domain/datasets/service.ts';
import { ModelService } from './domain/models/service.ts';
import { ProjectService } from './domain/projects.ts';
import { JobEvents } from './jobs/events.ts';
import { JobQueries } from './jobs/queries.ts';
import { JobService } from './jobs/service.ts';
import { JobQueue } from './queue/job-queue.ts';
import { createNotificationSource } from './queue/notifications.ts';
import { SqlPool } from './queue/pool.ts';
import { jobResourceGuard } from './security/job-guards.ts';
import { createObjectStore } from './storage/create-store.ts';
import type { ObjectStore } from './storage/object-store.ts';

export interface Services {
  models: ModelService;
  datasets: DatasetService;
  jobs: JobService;
  /** Batch reads of jobs and their metrics for the GraphQL loaders (a fixed number of queries per request). */
  jobQueries: JobQueries;
  projects: ProjectService;
}

export interface Runtime {
  config: Config;
  databaseUrl: string;
  /** True when this process serves the embedded PGlite database. */
  embedded: boolean;
  db: Db;
  store: ObjectStore;
  services: Services;
  /** Owner of every job state transition; the Job table is the queue (docs/adr/0001-job-state.md). */
  queue: JobQueue;
  /** Job event feed of this process: one notification connection, fanned out. */
  jobEvents: JobEvents;
  /** The job system's small pg pool (the raw SQL of src/queue/sql.ts). */
  sql: SqlPool;
  close(): Promise<void>;
}

/** Connections of the job system's pool per process (PGlite serves 40 in all). */
const JOB_POOL_MAX = 4;

export async function createRuntime(config: Config, opts: { joinEmbedded?: boolean } = {}): Promise<Runtime> {
  let embedded: EmbeddedPostgres | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl && opts.joinEmbedded) databaseUrl = await findRunningEmbedded(config.dbDir);
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dbDir, config.embeddedDbPort);
    databaseUrl = embedded.url;
  }
  const opened: { close(): Promise<unknown> }[] = [];
  const closeAll = async () => {
    for (const c of opened.reverse()) await c.close().catch(() => {});
    await embedded?.stop();
  };
  try {
    await applyMigrations(databaseUrl);
    const db = createPrisma(databaseUrl, { timeouts: config.db });
    opened.push({ close: () => db.$disconnect() });
    const store = await createObjectStore(config);
    const sql = new SqlPool(databaseUrl, JOB_POOL_MAX, config.db);
    opened.push(sql);
    const queue = new JobQueue(sql, config.worker);
    const jobEvents = new JobEvents(db, sql, await createNotificationSource(databaseUrl));
    await jobEvents.start();
    opened.push(jobEvents);
    const deps = { db, store, config };
    const services: Services = {
      models: new ModelService(deps),
      datasets: new DatasetService(deps),
      jobs: new JobService({ db, queue, events: jobEvents, admit: jobResourceGuard(db, config.jobLimits) }), // resource guards at creation
      jobQueries: new JobQueries(db),
      projects: new ProjectService(db),
    };
    return {
      config,
      databaseUrl,
      embedded: embedded !== null,
      db,
      store,
      services,
      queue,
      jobEvents,
      sql,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
