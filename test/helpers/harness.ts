// Integration-test harness: builds the real app over real dependencies for one "target":
//   embedded  — PGlite over the wire protocol + filesystem object store (the zero-setup default)
//   real      — PostgreSQL at 127.0.0.1:5432 (a fresh database per test file) + an S3 server (Swift s3api
//               started by scripts/s3-test-server.sh; a fresh bucket per test file)
// Every integration suite runs once per available target (see forEachTarget).
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import { describe } from 'node:test';
import pg from 'pg';
import supertest from 'supertest';
import { loadConfig, type Config } from '../../src/config.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { Worker } from '../../src/worker/worker.ts';
import { realTargetRequired } from './s3.ts';

export type TargetName = 'embedded' | 'real';

export const PG_ADMIN_URL = process.env.MODELPRESS_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

export interface TestContext {
  target: TargetName;
  app: App;
  runtime: Runtime;
  config: Config;
  /** supertest bound to the live app (real HTTP over loopback) */
  http: ReturnType<typeof supertest>;
  baseUrl: string;
  /** The in-process worker, when startTestApp was asked for one. */
  worker: Worker | null;
  /** The env the app was started with (give it to worker child processes). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Also run an in-process job worker with this concurrency. */
  worker?: { concurrency: number };
}

/**
 * An admin connection to the test PostgreSQL. A busy server is retried for up to a minute, so it is not taken for a
 * missing one: a connect that timed out (a loaded 2-core CI machine forks backends slowly), too many connections
 * (parallel files, their pools and worker children can reach max_connections for a moment), a server starting up.
 * Anything else (refused: no server; bad credentials) fails at once.
 */
async function adminClient(): Promise<pg.Client> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 10_000 });
    try {
      await c.connect();
      return c;
    } catch (err) {
      await c.end().catch(() => {});
      const code = (err as { code?: string }).code ?? '';
      const busy = ['53300', '57P03', 'ECONNRESET'].includes(code) || /timeout/i.test(err instanceof Error ? err.message : '');
      if (!busy || Date.now() > deadline) throw err;
      await pause(500);
    }
  }
}

/** null when PostgreSQL answers, else why not. */
async function pgUnreachable(): Promise<string | null> {
  try {
    await (await adminClient()).end();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message || String((err as { code?: string }).code) : String(err);
  }
}

/**
 * Targets this run can use. When the real target is required (CI=true, or MODELPRESS_TEST_TARGETS names it),
 * a missing PostgreSQL or S3 server fails every integration file with a message instead of skipping.
 */
export async function availableTargets(): Promise<TargetName[]> {
  const targets: TargetName[] = ['embedded'];
  const wantReal = process.env.MODELPRESS_TEST_TARGETS ?? 'embedded,real';
  if (!wantReal.includes('real')) return targets;
  const hasS3 = Boolean(process.env.S3_ENDPOINT);
  const pgError = await pgUnreachable();
  const hasPg = pgError === null;
  if (hasS3 && hasPg) targets.push('real');
  else if (realTargetRequired())
    throw new Error(
      `the real target (required: CI=${process.env.CI ?? ''}, MODELPRESS_TEST_TARGETS=${process.env.MODELPRESS_TEST_TARGETS ?? ''}) needs PostgreSQL (${hasPg ? 'ok' : `unreachable: ${pgError}`}) and S3_ENDPOINT (${hasS3 ? 'ok' : 'unset'}) for the real target`,
    );
  else
    console.warn(
      `# skipping the real PostgreSQL+S3 target (postgres ${hasPg ? 'ok' : `unreachable: ${pgError}`}, S3_ENDPOINT ${hasS3 ? 'set' : 'unset'}); run npm test to start Swift`,
    );
  return targets;
}

let targetsPromise: Promise<TargetName[]> | undefined;

/** Declares `suite` once per available target: describe('[embedded] …') and describe('[real] …'). */
export async function forEachTarget(title: string, suite: (target: TargetName) => void) {
  targetsPromise ??= availableTargets();
  for (const t of await targetsPromise) describe(`[${t}] ${title}`, () => suite(t));
}

export async function createDatabase(): Promise<string> {
  const name = `mp_test_${crypto.randomBytes(6).toString('hex')}`;
  const admin = await adminClient();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(databaseUrl: string) {
  const name = new URL(databaseUrl).pathname.slice(1);
  const admin = await adminClient();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  await admin.end();
}

/** Env for a target: a temp data dir, and for `real` a fresh database and bucket. */
export async function targetEnv(
  target: TargetName,
  extra: Record<string, string> = {},
): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), `mp-${target}-`));
  // npm test builds one migrated embedded database (scripts/pglite-template.ts): a copy starts ~5x cheaper than initdb.
  const template = process.env.MODELPRESS_TEST_PGLITE_TEMPLATE;
  if (target === 'embedded' && template) await fs.cp(template, path.join(dataDir, 'db'), { recursive: true });
  const env: Record<string, string> = {
    MODELPRESS_DATA_DIR: dataDir,
    MODELPRESS_EMBEDDED_DB_PORT: '0',
    MODELPRESS_BUILTIN_DATASETS: 'false',
    MODELPRESS_IN_PROCESS_WORKER: 'false',
    // Suites read their own writes at once; the cache (eventually consistent by design) has its own test.
    MODELPRESS_GRAPHQL_CACHE_MS: '0',
    MODELPRESS_AUTH: 'off', // suites that test API keys turn it on
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    // Training on one thread: no replica threads to start (seconds of CPU per process) and no thread calibration's
    // 28 alternating steps, where a 2-core machine runs three files at once. Suites that test data-parallel jobs
    // pass their own value (worker-process.test.ts); test/unit/ml-parallel.test.ts covers the threads themselves.
    MODELPRESS_TRAIN_THREADS: process.env.MODELPRESS_TEST_TRAIN_THREADS ?? '1',
    ...extra,
  };
  let databaseUrl: string | null = null;
  if (target === 'real') {
    databaseUrl = await createDatabase();
    env.DATABASE_URL = databaseUrl;
    for (const k of ['S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_REGION', 'S3_USE_SSL'] as const) {
      if (process.env[k]) env[k] = process.env[k]!;
    }
    env.S3_BUCKET = `mp-test-${crypto.randomBytes(5).toString('hex')}`;
  }
  return {
    env,
    cleanup: async () => {
      if (databaseUrl) await dropDatabase(databaseUrl);
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function startTestApp(target: TargetName, extraEnv: Record<string, string> = {}, opts: TestAppOptions = {}): Promise<TestContext> {
  const { env, cleanup } = await targetEnv(target, extraEnv);
  const config = loadConfig(env);
  const runtime = await createRuntime(config);
  const quiet = { info() {}, warn() {}, error: (obj: object, msg?: string) => console.error(msg, obj) };
  const worker = opts.worker ? new Worker(runtime, { concurrency: opts.worker.concurrency, log: quiet }) : null;
  await worker?.start();
  const app = await buildApp(runtime, { logger: { level: env.LOG_LEVEL } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const baseUrl = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
  return {
    target,
    app,
    runtime,
    config,
    http: supertest(baseUrl),
    baseUrl,
    worker,
    env: { ...env, DATABASE_URL: runtime.databaseUrl },
    async close() {
      await worker?.stop();
      await app.close();
      if (runtime.store.kind === 's3') for (const p of ['models/', 'datasets/']) await runtime.store.deletePrefix(p).catch(() => {});
      await runtime.close();
      await cleanup();
    },
  };
}

/** Every object key under a prefix, to assert that failed uploads leave nothing behind. */
export async function listKeys(ctx: TestContext, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of ctx.runtime.store.list(prefix)) keys.push(k);
  return keys;
}

/** Row counts of every table that uploads write, for the same purpose. */
export async function rowCounts(ctx: TestContext) {
  const db = ctx.runtime.db;
  const [models, modelFiles, datasets, datasetFiles] = await Promise.all([
    db.model.count(),
    db.modelFile.count(),
    db.dataset.count(),
    db.datasetFile.count(),
  ]);
  return { models, modelFiles, datasets, datasetFiles };
}
