// All configuration comes from environment variables, validated once at start. A bad value stops the
// process with a message naming the variable.
import os from 'node:os';
import path from 'node:path';

export interface Config {
  host: string;
  port: number;
  logLevel: string;
  dataDir: string;
  /** Unset → embedded PostgreSQL (PGlite) under dbDir, served on 127.0.0.1:embeddedDbPort. */
  databaseUrl: string | null;
  dbDir: string;
  embeddedDbPort: number;
  /** Bounds of every pooled database call (src/db/pg-pool.ts): a cut or silent connection fails instead of hanging. */
  db: { connectTimeoutMs: number; queryTimeoutMs: number };
  /** Unset → filesystem object store under objectsDir. */
  s3: null | { endPoint: string; port: number; useSSL: boolean; accessKey: string; secretKey: string; bucket: string; region: string };
  objectsDir: string;
  tmpDir: string;
  limits: {
    maxFileBytes: number;
    maxRequestBytes: number;
    maxFiles: number;
    maxModelJsonBytes: number;
    maxExamples: number;
    maxParams: number;
    /** Dataset tensors (features + labels, all splits) after decoding, in elements and bytes. */
    maxDatasetElements: number;
    maxDatasetBytes: number;
    /** Decoded dataset bytes per uploaded byte (above a 64 MiB floor): refuses decompression bombs. */
    maxExpansionRatio: number;
    /** Pixels of one uploaded image, from its header before decoding. */
    maxImagePixels: number;
  };
  worker: {
    inProcess: boolean;
    concurrency: number;
    heartbeatSeconds: number;
    expireSeconds: number;
    pollIntervalSeconds: number;
    /** Runs in a row that may lose their worker before the job fails. */
    lostRetries: number;
    /** A worker process whose RSS is above this after a job recycles itself (0: never). */
    maxRssBytes: number;
    /**
     * Data-parallel threads one training job uses on the wasm backend (MODELPRESS_TRAIN_THREADS); default: the
     * machine's cores divided by the jobs this worker runs at once, so concurrent jobs don't oversubscribe it.
     */
    trainThreads: number;
    /**
     * MODELPRESS_TRAIN_THREADS left at its default: trainThreads is then an upper bound, and each training measures
     * its first steps on one thread and on trainThreads and keeps the faster (src/ml/parallel/thread-calibration.ts).
     */
    trainThreadsAuto: boolean;
  };
  backend: 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  /** Timed runs per latency figure (tfjs p50/p95 at batch 1 and 256; ONNX Runtime uses at most 10). */
  latencyRuns: number;
  registerBuiltins: boolean;
  /** GraphQL query response cache TTL; 0 disables it (entries are also invalidated by every job event and write). */
  graphqlCacheMs: number;
  /** Live GraphQL subscriptions one WebSocket / one API key (one IP without a key) may hold. */
  subscriptionLimits: { perSocket: number; perKey: number };
  security: SecurityConfig;
  jobLimits: JobLimitsConfig;
  /** Orphan sweeper (src/domain/orphans.ts): objects no row owns, older than graceMs; every intervalMs (0: at start only). */
  sweep: { graceMs: number; intervalMs: number };
  /** On SIGTERM, requests (slow uploads) still running after this are cut instead of waiting for the request timeout. */
  shutdownGraceMs: number;
}

export interface SecurityConfig {
  /** API keys required (MODELPRESS_AUTH); default on with DATABASE_URL, off in embedded mode. */
  auth: boolean;
  /** Origins allowed by CORS; empty → no cross-origin access. "*" allows any. */
  corsOrigins: string[];
  /** Requests per minute per API key (per IP without one); 0 disables. */
  rateLimitPerMinute: number;
  /** GraphQL cost points refilled per minute per API key (per IP without one), burst MAX_COST; 0 disables. */
  graphqlCostPerMinute: number;
  /** Requests per minute per IP that fail authentication (no key where needed, unknown key); 0 disables. */
  rateLimitUnauthenticatedPerMinute: number;
  /** How long an unknown API key is remembered (no database lookup for it meanwhile). */
  negativeKeyCacheSeconds: number;
  metrics: 'on' | 'off' | 'auth';
  /** Idle/total time a request may take before the socket is closed (uploads of big files need long). */
  requestTimeoutMs: number;
}

export interface JobLimitsConfig {
  maxEpochs: number;
  /** Largest model (parameters) a job may load. */
  maxParams: number;
  /** Estimated bytes a job may hold at once (weights, gradients, optimizer state, dataset tensors). */
  maxTensorBytes: number;
  /** A run longer than this fails with JOB_TIMEOUT; 0 disables. */
  timeoutSeconds: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const str = (env: Env, name: string, fallback: string) => {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
};

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${raw}"`);
  return v;
}

/** Cores ÷ jobs this worker runs at once (at least 1): one job alone gets the whole machine. */
function defaultTrainThreads(env: Env): number {
  return Math.max(1, Math.floor(os.availableParallelism() / int(env, 'MODELPRESS_WORKER_CONCURRENCY', 1, 1, 64)));
}

/** Sizes accept plain bytes or a unit suffix: 512k, 64m, 2g (binary units). */
function bytes(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const m = /^(\d+)\s*([kmg]i?b?)?$/i.exec(raw.trim());
  if (!m) throw new ConfigError(name, `must be a size like 1048576, 512k, 64m or 2g, got "${raw}"`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

function parseS3(env: Env): Config['s3'] {
  const endpoint = env.S3_ENDPOINT;
  if (!endpoint) return null;
  let url: URL;
  try {
    url = new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`);
  } catch {
    throw new ConfigError('S3_ENDPOINT', `must be a URL like http://127.0.0.1:9000, got "${endpoint}"`);
  }
  for (const name of ['S3_ACCESS_KEY', 'S3_SECRET_KEY'] as const) {
    if (!env[name]) throw new ConfigError(name, 'is required when S3_ENDPOINT is set');
  }
  const useSSL = bool(env, 'S3_USE_SSL', url.protocol === 'https:');
  return {
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: env.S3_ACCESS_KEY!,
    secretKey: env.S3_SECRET_KEY!,
    bucket: str(env, 'S3_BUCKET', 'modelpress'),
    region: str(env, 'S3_REGION', 'us-east-1'),
  };
}

export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(str(env, 'MODELPRESS_DATA_DIR', './data'));
  const databaseUrl = env.DATABASE_URL || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', `must start with postgres:// or postgresql://, got "${databaseUrl.replace(/:[^:@/]*@/, ':***@')}"`);
  }
  const bucket = env.S3_BUCKET;
  if (bucket !== undefined && bucket !== '' && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError('S3_BUCKET', `must be a valid bucket name (3-63 chars, lowercase letters, digits, dots, hyphens), got "${bucket}"`);
  }
  return {
    host: str(env, 'HOST', '127.0.0.1'),
    port: int(env, 'PORT', 3000, 0, 65535),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    dataDir,
    databaseUrl,
    dbDir: path.resolve(str(env, 'MODELPRESS_DB_DIR', path.join(dataDir, 'db'))),
    embeddedDbPort: int(env, 'MODELPRESS_EMBEDDED_DB_PORT', 54329, 0, 65535),
    db: {
      connectTimeoutMs: int(env, 'MODELPRESS_DB_CONNECT_TIMEOUT_SECONDS', 30, 1, 3600) * 1000,
      queryTimeoutMs: int(env, 'MODELPRESS_DB_QUERY_TIMEOUT_SECONDS', 120, 1, 86_400) * 1000,
    },
    s3: parseS3(env),
    objectsDir: path.resolve(str(env, 'MODELPRESS_OBJECTS_DIR', path.join(dataDir, 'objects'))),
    tmpDir: path.resolve(str(env, 'MODELPRESS_TMP_DIR', path.join(dataDir, 'tmp'))),
    limits: {
      maxFileBytes: bytes(env, 'MODELPRESS_MAX_FILE_BYTES', 1024 ** 3),
      maxRequestBytes: bytes(env, 'MODELPRESS_MAX_REQUEST_BYTES', 2 * 1024 ** 3),
      maxFiles: int(env, 'MODELPRESS_MAX_FILES', 100, 1),
      maxModelJsonBytes: bytes(env, 'MODELPRESS_MAX_MODEL_JSON_BYTES', 16 * 1024 ** 2),
      maxExamples: int(env, 'MODELPRESS_MAX_EXAMPLES', 10_000_000, 1),
      maxParams: int(env, 'MODELPRESS_MAX_PARAMS', 200_000_000, 1),
      maxDatasetElements: int(env, 'MODELPRESS_MAX_DATASET_ELEMENTS', 1_000_000_000, 1),
      maxDatasetBytes: bytes(env, 'MODELPRESS_MAX_DATASET_BYTES', 4 * 1024 ** 3),
      maxExpansionRatio: int(env, 'MODELPRESS_MAX_EXPANSION_RATIO', 100, 1),
      maxImagePixels: int(env, 'MODELPRESS_MAX_IMAGE_PIXELS', 4096 * 4096, 1),
    },
    worker: {
      inProcess: bool(env, 'MODELPRESS_IN_PROCESS_WORKER', !databaseUrl),
      concurrency: int(env, 'MODELPRESS_WORKER_CONCURRENCY', 1, 1, 64),
      heartbeatSeconds: int(env, 'MODELPRESS_JOB_HEARTBEAT_SECONDS', 10, 1),
      expireSeconds: int(env, 'MODELPRESS_JOB_EXPIRE_SECONDS', 60, 1),
      pollIntervalSeconds: int(env, 'MODELPRESS_QUEUE_POLL_SECONDS', 2, 1),
      lostRetries: int(env, 'MODELPRESS_JOB_LOST_RETRIES', 3, 0, 100),
      // Default: what one job may hold (MODELPRESS_JOB_MAX_TENSOR_BYTES) plus 2 GiB for the runtime itself.
      maxRssBytes: bytes(env, 'MODELPRESS_WORKER_MAX_RSS', bytes(env, 'MODELPRESS_JOB_MAX_TENSOR_BYTES', 4 * 1024 ** 3) + 2 * 1024 ** 3),
      trainThreads: int(env, 'MODELPRESS_TRAIN_THREADS', defaultTrainThreads(env), 1, 256),
      trainThreadsAuto: (env.MODELPRESS_TRAIN_THREADS ?? '') === '',
    },
    backend: oneOf(env, 'MODELPRESS_BACKEND', ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const, 'auto'),
    latencyRuns: int(env, 'MODELPRESS_LATENCY_RUNS', 30, 1, 1000),
    registerBuiltins: bool(env, 'MODELPRESS_BUILTIN_DATASETS', true),
    graphqlCacheMs: int(env, 'MODELPRESS_GRAPHQL_CACHE_MS', 1000, 0, 3_600_000),
    subscriptionLimits: {
      perSocket: int(env, 'MODELPRESS_SUBSCRIPTIONS_PER_SOCKET', 20, 1),
      perKey: int(env, 'MODELPRESS_SUBSCRIPTIONS_PER_KEY', 100, 1),
    },
    security: {
      auth: bool(env, 'MODELPRESS_AUTH', Boolean(databaseUrl)),
      corsOrigins: str(env, 'MODELPRESS_CORS_ORIGINS', '')
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
      rateLimitPerMinute: int(env, 'MODELPRESS_RATE_LIMIT', 1200, 0),
      rateLimitUnauthenticatedPerMinute: int(env, 'MODELPRESS_RATE_LIMIT_UNAUTHENTICATED', 120, 0),
      graphqlCostPerMinute: int(env, 'MODELPRESS_GRAPHQL_COST_PER_MINUTE', 30_000, 0),
      negativeKeyCacheSeconds: int(env, 'MODELPRESS_NEGATIVE_KEY_CACHE_SECONDS', 30, 0, 3600),
      metrics: oneOf(env, 'MODELPRESS_METRICS', ['on', 'off', 'auth'] as const, 'on'),
      requestTimeoutMs: int(env, 'MODELPRESS_REQUEST_TIMEOUT_SECONDS', 600, 0) * 1000,
    },
    sweep: {
      // Longer than the default request timeout (600 s), so an upload still in flight is never swept.
      graceMs: int(env, 'MODELPRESS_SWEEP_GRACE_SECONDS', 3600, 0) * 1000,
      intervalMs: int(env, 'MODELPRESS_SWEEP_INTERVAL_SECONDS', 3600, 0) * 1000,
    },
    shutdownGraceMs: int(env, 'MODELPRESS_SHUTDOWN_GRACE_SECONDS', 10, 0, 3600) * 1000,
    jobLimits: {
      maxEpochs: int(env, 'MODELPRESS_JOB_MAX_EPOCHS', 1000, 1),
      maxParams: int(env, 'MODELPRESS_JOB_MAX_PARAMS', 50_000_000, 1),
      maxTensorBytes: bytes(env, 'MODELPRESS_JOB_MAX_TENSOR_BYTES', 4 * 1024 ** 3),
      timeoutSeconds: int(env, 'MODELPRESS_JOB_TIMEOUT_SECONDS', 6 * 3600, 0),
    },
  };
}
