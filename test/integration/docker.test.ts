// Static checks of docker/ (no Docker engine runs on these machines, and hadolint is neither in Debian nor npm):
// the compose file's structure, every environment variable it sets being one src/config.ts reads and accepts,
// the Dockerfiles' pinned bases, non-root users and production install, and the build context.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { ConfigError, loadConfig } from '../../src/config.ts';

const root = path.resolve(import.meta.dirname, '../..');
const read = (p: string) => fs.readFileSync(path.join(root, p), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  deploy?: { resources: { reservations: { devices: { driver: string; count: number; capabilities: string[] }[] } } };
}
const compose = YAML.parse(read('docker/docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const MODELPRESS_SERVICES = ['api', 'worker', 'worker-gpu'];

/** Compose interpolation as `docker compose` does it with no .env: ${VAR:-default} → default; anything else fails. */
function interpolate(value: string, at: string): string {
  return value.replace(/\$\{([A-Z0-9_]+)(:?-([^}]*))?\}/g, (whole, _name: string, hasDefault: string | undefined, fallback: string | undefined) => {
    assert.ok(hasDefault, `${at}: ${whole} has no default, so the file does not start without a .env`);
    return fallback ?? '';
  });
}

/** Names of the environment variables src/config.ts reads: env.NAME and every 'NAME' literal handed to a parser. */
function configVariables(): Set<string> {
  const src = read('src/config.ts');
  return new Set([...src.matchAll(/env\.([A-Z][A-Z0-9_]+)|'([A-Z][A-Z0-9_]*_[A-Z0-9_]+|HOST|PORT)'/g)].map((m) => m[1] ?? m[2]));
}

test('compose: postgres 16, minio, api, CPU worker and a gpu-profile worker with an NVIDIA device reservation', () => {
  assert.deepEqual(Object.keys(services).sort(), ['api', 'minio', 'postgres', 'worker', 'worker-gpu']);
  assert.match(services.postgres.image!, /^postgres:16(\.\d+)?-/);
  assert.match(services.minio.image!, /^minio\/minio:RELEASE\./);
  assert.deepEqual(services.api.build, { context: '..', dockerfile: 'docker/Dockerfile' });
  assert.deepEqual(services['worker-gpu'].build, { context: '..', dockerfile: 'docker/Dockerfile.gpu' });
  assert.equal(services.worker.image, services.api.image, 'the CPU worker runs the API image');
  assert.deepEqual(services.api.command, ['serve']);
  assert.deepEqual(services.worker.command, ['worker']);
  assert.deepEqual(services['worker-gpu'].command, ['worker']);
  assert.deepEqual(services['worker-gpu'].profiles, ['gpu']);
  for (const name of ['api', 'worker', 'postgres', 'minio']) assert.equal(services[name].profiles, undefined, `${name} starts without a profile`);
  assert.deepEqual(services['worker-gpu'].deploy?.resources.reservations.devices, [{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }]);
  assert.equal(services['worker-gpu'].environment?.MODELPRESS_BACKEND, 'tensorflow');
});

test('compose: health checks, start order on health, persistent volumes, pinned images', () => {
  assert.match(services.api.healthcheck!.test.join(' '), /\/readyz/);
  assert.match(services.postgres.healthcheck!.test.join(' '), /pg_isready/);
  assert.ok(services.minio.healthcheck!.test.length > 1);
  assert.deepEqual(services.api.depends_on, { postgres: { condition: 'service_healthy' }, minio: { condition: 'service_healthy' } });
  for (const w of ['worker', 'worker-gpu']) assert.deepEqual(services[w].depends_on, { api: { condition: 'service_healthy' } }, w);

  const mounted = Object.values(services).flatMap((s) => (s.volumes ?? []).map((v) => v.split(':')[0]));
  assert.deepEqual(mounted.sort(), Object.keys(compose.volumes).sort(), 'every named volume is mounted and declared');
  assert.ok(services.postgres.volumes!.some((v) => v.endsWith(':/var/lib/postgresql/data')));
  assert.ok(services.minio.volumes!.some((v) => v.endsWith(':/data')));

  for (const [name, s] of Object.entries(services)) {
    assert.match(s.image ?? '', /^[\w./-]+:[\w.-]+$/, `${name}: image with an explicit tag`);
    assert.doesNotMatch(s.image!, /:latest$/, `${name}: no latest tag`);
  }
});

test('compose: every variable set for the API and workers is one src/config.ts reads, and loadConfig accepts the values', () => {
  const known = configVariables();
  assert.ok(known.has('DATABASE_URL') && known.has('S3_ENDPOINT') && known.has('MODELPRESS_BACKEND'), `parsed ${[...known].join(', ')}`);
  for (const name of MODELPRESS_SERVICES) {
    const raw = services[name].environment!;
    const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v), `${name}.${k}`)]));
    for (const k of Object.keys(env)) assert.ok(known.has(k), `${name}: ${k} is not read by src/config.ts`);
    let config;
    try {
      config = loadConfig(env);
    } catch (err) {
      assert.fail(`${name}: ${err instanceof ConfigError ? err.message : String(err)}`);
    }
    assert.match(config.databaseUrl ?? '', /^postgres:\/\/modelpress:[^@]+@postgres:5432\/modelpress$/, name);
    assert.deepEqual(config.s3 && { endPoint: config.s3.endPoint, port: config.s3.port, useSSL: config.s3.useSSL, bucket: config.s3.bucket }, {
      endPoint: 'minio',
      port: 9000,
      useSSL: false,
      bucket: 'modelpress',
    });
    assert.equal(config.worker.inProcess, false, `${name}: workers run in their own containers`);
    assert.equal(config.dataDir, '/data');
  }
  const api = loadConfig(Object.fromEntries(Object.entries(services.api.environment!).map(([k, v]) => [k, interpolate(String(v), k)])));
  assert.equal(api.host, '0.0.0.0', 'the API listens beyond the container');
  assert.equal(api.port, 3000);
  const minio = services.minio.environment!;
  assert.deepEqual(
    [services.api.environment!.S3_ACCESS_KEY, services.api.environment!.S3_SECRET_KEY],
    [minio.MINIO_ROOT_USER, minio.MINIO_ROOT_PASSWORD],
    "S3 credentials are MinIO's",
  );
  assert.ok(
    services.api.environment!.DATABASE_URL.includes(`:${services.postgres.environment!.POSTGRES_PASSWORD}@`),
    'DATABASE_URL carries the postgres password',
  );
});

/** Dockerfile instructions with line continuations joined and comments dropped; ARG defaults substituted in FROM. */
function instructions(file: string): { op: string; args: string }[] {
  const text = read(file).replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

function stages(file: string) {
  const ins = instructions(file);
  const args = new Map<string, string>();
  const result: { base: string; name: string | undefined; body: { op: string; args: string }[] }[] = [];
  for (const i of ins) {
    if (i.op === 'ARG' && result.length === 0) {
      const [k, v] = i.args.split('=');
      args.set(k, v);
    } else if (i.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args)!;
      const base = m[1].replace(/\$\{(\w+)\}/g, (_, k: string) => args.get(k) ?? assert.fail(`${file}: ARG ${k} has no default`));
      result.push({ base, name: m[2], body: [] });
    } else result.at(-1)?.body.push(i);
  }
  return result;
}

for (const file of ['docker/Dockerfile', 'docker/Dockerfile.gpu']) {
  test(`${file}: pinned bases, production install, non-root runtime, known env, tsx entrypoint`, () => {
    const all = stages(file);
    const names = new Set(all.map((s) => s.name));
    for (const s of all) {
      if (names.has(s.base)) continue; // FROM an earlier stage
      assert.match(s.base, /^[\w./-]+:\d[\w.-]*$/, `${file}: ${s.base} pinned to a version tag`);
      assert.doesNotMatch(s.base, /:latest$/);
    }
    const runtime = all.at(-1)!;
    const body = (op: string) => runtime.body.filter((i) => i.op === op).map((i) => i.args);

    const user = body('USER').at(-1);
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `${file}: final USER is not root (${user})`);
    const ops = runtime.body.map((i) => i.op);
    assert.ok(ops.indexOf('USER') > ops.lastIndexOf('RUN'), 'USER after the last RUN');
    assert.deepEqual(JSON.parse(body('ENTRYPOINT')[0]), ['node', '--import', 'tsx', 'src/main.ts']);

    const runs = all.flatMap((s) => s.body.filter((i) => i.op === 'RUN').map((i) => i.args));
    assert.ok(
      runs.some((r) => /npm ci --omit=dev\b/.test(r)),
      `${file}: production dependencies with npm ci --omit=dev`,
    );
    assert.ok(
      runs.some((r) => /npx prisma generate/.test(r)),
      `${file}: the Prisma client is generated in a build stage`,
    );
    for (const c of body('COPY').filter((a) => a.startsWith('--from=')))
      assert.ok(names.has(/^--from=(\S+)/.exec(c)![1]), `${file}: ${c} names a stage`);
    assert.ok(
      body('COPY').some((c) => /^--from=\w+ \/app\/src\/db\/generated /.test(c)),
      `${file}: copies the generated client`,
    );

    const known = configVariables();
    const envNames = body('ENV').flatMap((a) => [...a.matchAll(/(\w+)=/g)].map((m) => m[1]));
    for (const n of envNames) assert.ok(n === 'NODE_ENV' || known.has(n), `${file}: ENV ${n} is read by src/config.ts`);
    assert.doesNotThrow(() => loadConfig(Object.fromEntries(body('ENV').flatMap((a) => [...a.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])))));
  });
}

test('Dockerfile.gpu: CUDA 11.2 + cuDNN 8 base (libtensorflow 2.9 of tfjs-node-gpu 4.22), tensorflow backend', () => {
  const all = stages('docker/Dockerfile.gpu');
  assert.match(all.at(-1)!.base, /^nvidia\/cuda:11\.2(\.\d+)?-cudnn8-runtime-/);
  const pkg = JSON.parse(read('package.json')) as { optionalDependencies: Record<string, string> };
  assert.equal(pkg.optionalDependencies['@tensorflow/tfjs-node-gpu'], '4.22.0', 'a new tfjs-node-gpu may need another CUDA: update the base image');
  assert.match(read('docker/Dockerfile.gpu'), /npm rebuild @tensorflow\/tfjs-node-gpu/);
  assert.match(read('docker/Dockerfile.gpu'), /MODELPRESS_BACKEND=tensorflow/);
});

test('images run with production dependencies only: no src/ import needs a devDependency', () => {
  const pkg = JSON.parse(read('package.json')) as Record<string, Record<string, string>>;
  const runtimeDeps = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]);
  assert.ok(runtimeDeps.has('tsx'), 'the entrypoint runs node --import tsx');
  const files = fs.readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const missing = new Set<string>();
  for (const f of files) {
    for (const m of read(path.join('src', f)).matchAll(/(?:from|import\()\s*'([^'.][^']*)'/g)) {
      const spec = m[1];
      if (spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!runtimeDeps.has(name)) missing.add(`${name} (src/${f})`);
    }
  }
  assert.deepEqual([...missing], []);
});

test('.dockerignore lets through exactly what the Dockerfiles copy from the context', () => {
  const rules = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  assert.equal(rules[0], '**', 'everything else stays out (node_modules, data, .git, test artifacts)');
  const allowed = new Set(rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1).replace(/\/$/, '')));
  assert.ok(rules.includes('src/db/generated/'), "the host's generated Prisma client stays out");
  for (const file of ['docker/Dockerfile', 'docker/Dockerfile.gpu']) {
    const copies = stages(file).flatMap((s) =>
      s.body.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).map((i) => i.args.split(/\s+/).slice(0, -1)),
    );
    for (const src of copies.flat()) {
      assert.ok(allowed.has(src.replace(/\/$/, '')), `${file}: COPY ${src} is excluded by .dockerignore`);
      assert.ok(fs.existsSync(path.join(root, src)), `${file}: COPY ${src} exists`);
    }
  }
});
