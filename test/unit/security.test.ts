import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { bearerToken } from '../../src/security/api-keys.ts';
import { contentSecurityPolicy } from '../../src/security/headers.ts';
import { hasScope, requiredScope } from '../../src/security/scopes.ts';

test('auth defaults on with DATABASE_URL, off embedded; bad values name their variable', () => {
  assert.equal(loadConfig({ DATABASE_URL: 'postgres://h/db' }).security.auth, true);
  assert.equal(loadConfig({}).security.auth, false);
  assert.equal(loadConfig({ DATABASE_URL: 'postgres://h/db', MODELPRESS_AUTH: 'off' }).security.auth, false);
  assert.deepEqual(loadConfig({ MODELPRESS_CORS_ORIGINS: 'https://a.example, https://b.example' }).security.corsOrigins, [
    'https://a.example',
    'https://b.example',
  ]);
  for (const [name, value] of [
    ['MODELPRESS_AUTH', 'maybe'],
    ['MODELPRESS_METRICS', 'public'],
    ['MODELPRESS_RATE_LIMIT', '-1'],
    ['MODELPRESS_JOB_MAX_EPOCHS', '0'],
    ['MODELPRESS_JOB_MAX_TENSOR_BYTES', 'lots'],
  ]) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (e: unknown) => e instanceof ConfigError && e.variable === name,
      name,
    );
  }
  assert.equal(loadConfig({ MODELPRESS_JOB_MAX_TENSOR_BYTES: '2g' }).jobLimits.maxTensorBytes, 2 * 1024 ** 3);
});

test('scopes: each includes the ones below; routes map to the scope they need', () => {
  assert.ok(hasScope('admin', 'write') && hasScope('write', 'read') && !hasScope('read', 'write') && !hasScope('write', 'admin'));
  const cases: [string, string, boolean, string | null][] = [
    ['GET', '/v1/models', false, 'read'],
    ['GET', '/v1/jobs/:id/events', false, 'read'],
    ['POST', '/v1/models', false, 'write'],
    ['DELETE', '/v1/datasets/:id', false, 'write'],
    ['GET', '/v1/keys', false, 'admin'],
    ['DELETE', '/v1/keys/:id', false, 'admin'],
    ['POST', '/graphql', false, 'read'],
    ['OPTIONS', '/v1/models', false, null],
    ['GET', '/healthz', false, null],
    ['GET', '/readyz', false, null],
    ['GET', '/metrics', false, null],
    ['GET', '/metrics', true, 'read'],
    ['GET', '/docs/', false, null],
    ['GET', '/', false, null],
  ];
  for (const [m, p, protect, want] of cases) assert.equal(requiredScope(m, p, protect), want, `${m} ${p}`);
});

test('bearer parsing and CSP per surface', () => {
  assert.equal(bearerToken('Bearer mp_abc'), 'mp_abc');
  assert.equal(bearerToken('bearer   mp_abc '), 'mp_abc');
  assert.equal(bearerToken('Basic dXNlcg=='), null);
  assert.equal(bearerToken(undefined), null);
  assert.match(contentSecurityPolicy('/v1/models'), /^default-src 'none'/);
  assert.match(contentSecurityPolicy('/docs/static/index.html'), /script-src 'self';/);
  // No UI page allows another origin: GraphiQL's assets come from the packages too (issue 18).
  for (const ui of ['/', '/docs/static/index.html', '/graphiql', '/graphiql/assets/graphiql.min.js']) {
    assert.doesNotMatch(contentSecurityPolicy(ui, 'localhost:3000'), /https?:|unpkg/, ui);
  }
  // WebSockets only to the request's own host; a forged Host gets none.
  assert.match(contentSecurityPolicy('/', 'localhost:3000'), /connect-src 'self' ws:\/\/localhost:3000 wss:\/\/localhost:3000;/);
  assert.doesNotMatch(contentSecurityPolicy('/'), /ws:|wss:/);
  assert.match(contentSecurityPolicy('/', 'evil; script-src *'), /connect-src 'self';/);
});
