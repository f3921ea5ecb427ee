// README keeps up with src/config.ts (issue 18: "the limits table, every variable"): each variable config.ts reads is
// documented, and each one that bounds a request, an upload, a job or a connection is in the Limits table.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

const read = (rel: string) => fs.readFileSync(new URL(`../../${rel}`, import.meta.url), 'utf8');
/** Variables that are settings, not limits (paths, backend, auth mode, CORS, cache, polling, worker wiring). */
const NOT_LIMITS = new Set([
  'MODELPRESS_AUTH',
  'MODELPRESS_BACKEND',
  'MODELPRESS_BUILTIN_DATASETS',
  'MODELPRESS_CORS_ORIGINS',
  'MODELPRESS_DATA_DIR',
  'MODELPRESS_DB_DIR',
  'MODELPRESS_EMBEDDED_DB_PORT',
  'MODELPRESS_GRAPHQL_CACHE_MS',
  'MODELPRESS_IN_PROCESS_WORKER',
  'MODELPRESS_LATENCY_RUNS',
  'MODELPRESS_METRICS',
  'MODELPRESS_OBJECTS_DIR',
  'MODELPRESS_QUEUE_POLL_SECONDS',
  'MODELPRESS_TMP_DIR',
  'MODELPRESS_TRAIN_THREADS',
]);

test('README documents every MODELPRESS_* variable of src/config.ts; the limits are in its Limits table', () => {
  const readme = read('README.md');
  const vars = [...new Set([...read('src/config.ts').matchAll(/'(MODELPRESS_[A-Z0-9_]+)'/g)].map((m) => m[1]))].sort();
  assert.ok(vars.length > 30, `found ${vars.length} variables`);
  const limits = readme.slice(readme.indexOf('### Limits'), readme.indexOf('**Orphan sweeper.**'));
  assert.ok(limits.length > 1000, 'the Limits section is there');
  assert.deepEqual(
    vars.filter((v) => !readme.includes(`\`${v}\``)),
    [],
    'undocumented variables',
  );
  assert.deepEqual(
    vars.filter((v) => !NOT_LIMITS.has(v) && !limits.includes(`\`${v}\``)),
    [],
    'limit variables missing from the Limits table (or add them to NOT_LIMITS if they are settings)',
  );
});
