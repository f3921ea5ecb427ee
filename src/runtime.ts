// Composition root: turns a Config into live dependencies (database, object store, domain services).
// The API server, the worker process and the tests all start from here, so they run the same wiring.
import type { Config } from './config.ts';
import { findRunningEmbedded, startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded-postgres.ts';
import { applyMigrations } from './db/migrate.ts';
import { createPrisma, type Db } from './db/prisma.ts';
import { DatasetService } from './domain/datasets/service.ts';
import { ModelService } from './domain/models/service.ts';
import { createObjectStore } from './storage/create-store.ts';
import type { ObjectStore } from './storage/object-store.ts';

export interface Services {
  models: ModelService;
  datasets: DatasetService;
}

export interface Runtime {
  config: Config;
  databaseUrl: string;
  /** True when this process serves the embedded PGlite database. */
  embedded: boolean;
  db: Db;
  store: ObjectStore;
  services: Services;
  close(): Promise<void>;
}

export async function createRuntime(config: Config, opts: { joinEmbedded?: boolean } = {}): Promise<Runtime> {
  let embedded: EmbeddedPostgres | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl && opts.joinEmbedded) databaseUrl = await findRunningEmbedded(config.dbDir);
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dbDir, config.embeddedDbPort);
    databaseUrl = embedded.url;
  }
  try {
    await applyMigrations(databaseUrl);
    const db = createPrisma(databaseUrl);
    const store = await createObjectStore(config);
    const deps = { db, store, config };
    const services: Services = { models: new ModelService(deps), datasets: new DatasetService(deps) };
    return {
      config,
      databaseUrl,
      embedded: embedded !== null,
      db,
      store,
      services,
      async close() {
        await db.$disconnect();
        await embedded?.stop();
      },
    };
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
}
