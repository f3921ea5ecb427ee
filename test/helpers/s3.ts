// S3 settings for tests that talk to a real S3 server (start one with scripts/s3-test-server.sh).
import { randomBytes } from 'node:crypto';
import { parseS3Endpoint, type S3StoreConfig } from '../../src/storage/s3-store.ts';

export type S3TestConfig = Omit<S3StoreConfig, 'bucket'>;

/** The S3 server named by S3_ENDPOINT (+ S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION), or null when unset. */
export function s3TestConfig(env: NodeJS.ProcessEnv = process.env): S3TestConfig | null {
  if (!env.S3_ENDPOINT) return null;
  return {
    ...parseS3Endpoint(env.S3_ENDPOINT),
    accessKey: env.S3_ACCESS_KEY ?? 'test:tester',
    secretKey: env.S3_SECRET_KEY ?? 'testing',
    region: env.S3_REGION ?? 'us-east-1',
  };
}

/** A fresh, valid bucket name per test file/run, e.g. uniqueBucket('objstore') → 'objstore-1a2b3c4d5e6f'. */
export function uniqueBucket(prefix: string): string {
  const safe = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40);
  return `${safe}-${randomBytes(6).toString('hex')}`;
}

/**
 * Whether this run must test the real PostgreSQL+S3 target: in CI (CI=true), or when MODELPRESS_TEST_TARGETS names
 * it. Then a missing server fails the run with a message instead of skipping (scripts/test.sh, harness.ts).
 */
export function realTargetRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true' || (env.MODELPRESS_TEST_TARGETS ?? '').split(',').includes('real');
}

export const S3_SKIP_MESSAGE = 'S3_ENDPOINT not set: start one with `bash scripts/s3-test-server.sh start` and export its env';
