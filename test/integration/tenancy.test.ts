// Projects (tenancy, issue 18): a GENERATED cross-project matrix. Resources are created in project A with A's key;
// then every REST operation of the served OpenAPI document and every root field of the served GraphQL schema
// (queries, mutations, subscriptions) is called with project B's key, and must answer 404 / NOT_FOUND / lists
// without A's ids — and a global admin key must reach A's resources through the same calls. A route or field
// the classifier does not know fails the test, so a new one cannot slip past it. Nested GraphQL fields (Job.model,
// Model.parent …) hang off roots B cannot reach, and their loaders take the same scope (checked for an admin below).
// Cheap: one tiny model, a 4-row CSV, one float16 quantize job (no dataset), one noop.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getNamedType, isLeafType, isNonNullType, type GraphQLField, type GraphQLNamedType, type GraphQLObjectType } from 'graphql';
import { runKeysCommand } from '../../src/cli/keys.ts';
import { loadConfig } from '../../src/config.ts';
import { buildGraphqlSchema } from '../../src/graphql/schema.ts';
import { ApiKeyService } from '../../src/security/api-keys.ts';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { wsSubscribe } from '../helpers/graphql.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { eventually } from '../helpers/wait.ts';

type Op = { method: string; path: string; parameters?: { name: string; in: string; required?: boolean; schema?: any }[]; requestBody?: unknown };
type Resource = 'models' | 'datasets' | 'jobs';

const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

/** A value for a required query parameter from its schema (the first allowed value). */
function sampleValue(schema: any): string {
  const v = schema?.enum?.[0] ?? schema?.const ?? schema?.anyOf?.[0]?.enum?.[0] ?? schema?.anyOf?.[0]?.const;
  if (v === undefined) throw new Error(`no sample value for query schema ${JSON.stringify(schema)}: teach the tenancy matrix`);
  return String(v);
}

await forEachTarget('projects (tenancy)', (target) => {
  let ctx: TestContext;
  const key = { admin: '', a: '', b: '', adminA: '' };
  /** Project A's resources (and B's own model, to show each sees its own). */
  const A = { model: '', dataset: '', datasetFile: '', job: '', result: '' };
  let modelB = '';

  const as = (k: string) => ({
    get: (url: string) => ctx.http.get(url).set(bearer(k)),
    post: (url: string, body?: object) =>
      ctx.http
        .post(url)
        .set(bearer(k))
        .send(body ?? {}),
  });

  async function uploadModel(k: string, name: string): Promise<{ id: string; projectId: string }> {
    const m = await tinyModelFiles(4);
    const res = await ctx.http
      .post('/v1/models')
      .set(bearer(k))
      .field('name', name)
      .attach('files', m.modelJson, 'model.json')
      .attach('files', m.shards[0].data, m.shards[0].name);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  }

  async function jobDone(k: string, id: string) {
    return eventually(async () => {
      const j = (await as(k).get(`/v1/jobs/${id}`).expect(200)).body;
      if (!['succeeded', 'failed', 'canceled'].includes(j.status)) throw new Error(`job ${id} is ${j.status}`);
      return j;
    }, 60_000);
  }

  before(async () => {
    // The GraphQL response cache on (the harness turns it off): its entries must never cross projects.
    ctx = await startTestApp(target, { MODELPRESS_AUTH: 'on', MODELPRESS_GRAPHQL_CACHE_MS: '60000' }, { worker: { concurrency: 1 } });
    const keys = new ApiKeyService(ctx.runtime.db);
    key.admin = (await keys.create({ name: 'root', scope: 'admin' })).key; // no project: global
    for (const id of ['team-a', 'team-b']) {
      const res = await as(key.admin).post('/v1/projects', { id, name: `Team ${id.slice(-1).toUpperCase()}` });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const made = async (body: object) => {
      const res = await as(key.admin).post('/v1/keys', body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const a = await made({ name: 'a', scope: 'write', projectId: 'team-a' });
    assert.equal(a.apiKey.projectId, 'team-a');
    key.a = a.key;
    key.b = (await made({ name: 'b', scope: 'write', projectId: 'team-b' })).key;
    key.adminA = (await made({ name: 'a-admin', scope: 'admin', projectId: 'team-a' })).key;

    const model = await uploadModel(key.a, 'a-model');
    assert.equal(model.projectId, 'team-a');
    A.model = model.id;
    const csv = Buffer.from('x,y,label\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n');
    const ds = await ctx.http.post('/v1/datasets').set(bearer(key.a)).field('name', 'a-data').attach('files', csv, 'a.csv');
    assert.equal(ds.status, 201, JSON.stringify(ds.body));
    assert.equal(ds.body.projectId, 'team-a');
    A.dataset = ds.body.id;
    A.datasetFile = ds.body.files[0].path;
    // A job that writes a result model: the result must inherit the job's project (the worker knows no keys).
    const job = await as(key.a).post('/v1/jobs', { type: 'quantize', modelId: A.model, params: { dtype: 'float16' } });
    assert.equal(job.status, 201, JSON.stringify(job.body));
    assert.equal(job.body.projectId, 'team-a');
    A.job = job.body.id;
    const done = await jobDone(key.a, A.job);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    A.result = done.resultModelIds[0];
    const result = (await as(key.a).get(`/v1/models/${A.result}`).expect(200)).body;
    assert.equal(result.projectId, 'team-a', 'a job result inherits the job project');
    modelB = (await uploadModel(key.b, 'b-model')).id;
  });
  after(async () => ctx?.close());

  const idOf = (r: Resource) => ({ models: A.model, datasets: A.dataset, jobs: A.job })[r];
  const aIds = () => [A.model, A.dataset, A.job, A.result];
  const leaksA = (body: unknown) => aIds().filter((id) => JSON.stringify(body).includes(id));

  /** Every REST operation of the served OpenAPI document, each with what project B (and the admin) must get. */
  function restMatrix() {
    const doc = ctx.app.swagger() as { paths: Record<string, Record<string, Omit<Op, 'method' | 'path'>>> };
    const ops: (Op & { kind: string; resource?: Resource; url?: string })[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const o: Op = { method: method.toUpperCase(), path, ...op };
        const m = /^\/v1\/(models|datasets|jobs)(\/\{id\}.*)?$/.exec(path);
        if (!path.startsWith('/v1/'))
          ops.push({ ...o, kind: 'open' }); // probes: no tenant data
        else if (/^\/v1\/(keys|projects)(\/|$)/.test(path)) ops.push({ ...o, kind: 'global-admin' });
        else if (m && m[2]) {
          const resource = m[1] as Resource;
          let url = path.replace('{id}', idOf(resource)).replace('{path}', resource === 'models' ? 'model.json' : A.datasetFile);
          if (url.includes('{')) throw new Error(`unknown path parameter in ${path}: teach the tenancy matrix`);
          const query = (o.parameters ?? []).filter((p) => p.in === 'query' && p.required).map((p) => `${p.name}=${sampleValue(p.schema)}`);
          if (query.length) url += `?${query.join('&')}`;
          ops.push({ ...o, kind: 'by-id', resource, url });
        } else if (m && o.method === 'GET') ops.push({ ...o, kind: 'list', resource: m[1] as Resource });
        else if (path === '/v1/jobs' && o.method === 'POST') ops.push({ ...o, kind: 'create-with-inputs' });
        else if (m && o.method === 'POST') ops.push({ ...o, kind: 'upload', resource: m[1] as Resource });
        else throw new Error(`unclassified route ${o.method} ${path}: add it to the tenancy matrix`);
      }
    }
    return ops;
  }

  const bodyFor = (op: Op) => (op.method === 'PATCH' ? { name: 'renamed' } : undefined);
  const call = (k: string, op: Op & { url?: string }, method = op.method) => {
    const req = (ctx.http as any)[method.toLowerCase()](op.url ?? op.path).set(bearer(k));
    const body = bodyFor(op);
    return body ? req.send(body) : req;
  };

  test('REST, generated from the OpenAPI document: project B gets 404 for every route on A’s resources, lists without them', async () => {
    const ops = restMatrix();
    const counts: Record<string, number> = {};
    for (const op of ops) {
      counts[op.kind] = (counts[op.kind] ?? 0) + 1;
      const what = `${op.method} ${op.path}`;
      if (op.kind === 'by-id') {
        const res = await call(key.b, op);
        assert.equal(res.status, 404, `${what} with B's key: ${res.status} ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'NOT_FOUND', what);
        assert.deepEqual(
          leaksA(res.body).filter((id) => id !== idOf(op.resource!)),
          [],
          `${what}: 404 names nothing else of A`,
        );
        if (op.method === 'GET') assert.equal((await call(key.b, op, 'HEAD')).status, 404, `HEAD ${op.path}`);
      } else if (op.kind === 'list') {
        const res = await call(key.b, op).expect(200);
        assert.deepEqual(leaksA(res.body), [], `${what} with B's key lists A's resources`);
        if (op.resource === 'models') assert.ok(JSON.stringify(res.body).includes(modelB), 'B sees its own model');
        const all = await call(key.admin, op).expect(200);
        const expected = { models: [A.model, A.result, modelB], datasets: [A.dataset], jobs: [A.job] }[op.resource!];
        for (const id of expected) assert.ok(JSON.stringify(all.body).includes(id), `${what}: the global admin sees ${id}`);
      } else if (op.kind === 'create-with-inputs') {
        for (const body of [
          { type: 'noop', modelId: A.model },
          { type: 'noop', datasetId: A.dataset },
          { type: 'noop', teacherModelId: A.model },
        ]) {
          const res = await as(key.b).post(op.path, body);
          assert.equal(res.status, 404, `${what} naming A's input ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        }
      } else if (op.kind === 'upload') {
        // A create goes to the caller's project: shown by B's own model (projectId team-b), invisible to A.
        const res = await as(key.a).get(`/v1/models/${modelB}`);
        assert.equal(res.status, 404);
      } else if (op.kind === 'global-admin') {
        for (const k of [key.b, key.adminA]) {
          const res = await call(k, { ...op, url: op.path.replace('{id}', '00000000-0000-4000-8000-000000000000') });
          assert.equal(res.status, 403, `${what} with a project-bound key: ${res.status}`);
        }
      }
    }
    // Every kind of route was generated (the document was read, not an empty list).
    for (const kind of ['by-id', 'list', 'create-with-inputs', 'upload', 'global-admin'])
      assert.ok(counts[kind] > 0, `no ${kind} routes: ${JSON.stringify(counts)}`);
    assert.ok(counts['by-id'] >= 15, JSON.stringify(counts));
  });

  test('REST: the global admin reaches every by-id route of A (non-destructive first), A reaches its own, B its own', async () => {
    const ops = restMatrix().filter((o) => o.kind === 'by-id' && o.method !== 'DELETE');
    for (const op of ops) {
      const res = await call(key.admin, op);
      // 409: cancel/retry of a finished job: the job was found.
      assert.ok(res.status < 400 || res.status === 409, `${op.method} ${op.path} as global admin: ${res.status} ${JSON.stringify(res.body)}`);
    }
    await as(key.a).get(`/v1/jobs/${A.job}/metrics`).expect(200);
    await as(key.b).get(`/v1/models/${modelB}`).expect(200);
    const projects = (await as(key.admin).get('/v1/projects').expect(200)).body.items.map((p: { id: string }) => p.id);
    assert.deepEqual(projects, ['default', 'team-a', 'team-b']);
  });

  /** Arguments for a root field: `id` is A's resource named by the field; required inputs come from this table. */
  function gqlArgs(field: GraphQLField<unknown, unknown>): Record<string, unknown> {
    const resource: Resource | null = /model/i.test(field.name)
      ? 'models'
      : /dataset/i.test(field.name)
        ? 'datasets'
        : /job/i.test(field.name)
          ? 'jobs'
          : null;
    const inputs: Record<string, unknown> = {
      UpdateModelInput: { name: 'renamed' },
      CreateJobInput: { type: 'NOOP', modelId: A.model },
    };
    const args: Record<string, unknown> = {};
    for (const arg of field.args) {
      if (arg.name === 'id') {
        if (!resource) throw new Error(`${field.name}(id): which resource? teach the tenancy matrix`);
        args.id = idOf(resource);
      } else if (isNonNullType(arg.type) && arg.defaultValue === undefined) {
        const t = getNamedType(arg.type).name;
        if (!(t in inputs)) throw new Error(`${field.name}(${arg.name}: ${t}!): no sample input, teach the tenancy matrix`);
        args[arg.name] = inputs[t];
      }
    }
    return args;
  }

  function selection(type: GraphQLNamedType): string {
    if (isLeafType(type)) return '';
    const fields = (type as GraphQLObjectType).getFields();
    if (fields.edges) return '{ edges { node { id } } }';
    if (fields.id) return fields.projectId ? '{ id projectId }' : '{ id }';
    const leaf = Object.values(fields).find((f) => isLeafType(getNamedType(f.type)));
    return `{ ${leaf!.name} }`;
  }

  function operation(kind: 'query' | 'mutation' | 'subscription', field: GraphQLField<unknown, unknown>) {
    const args = gqlArgs(field);
    const types = new Map(field.args.map((a) => [a.name, a.type.toString()]));
    const names = Object.keys(args);
    const decl = names.length ? `(${names.map((n) => `$${n}: ${types.get(n)}`).join(', ')})` : '';
    const use = names.length ? `(${names.map((n) => `${n}: $${n}`).join(', ')})` : '';
    return { query: `${kind}${decl} { ${field.name}${use} ${selection(getNamedType(field.type))} }`, variables: args, byId: 'id' in args };
  }

  async function gql(k: string, query: string, variables: Record<string, unknown>) {
    const res = await ctx.http.post('/graphql').set(bearer(k)).send({ query, variables });
    return res.body as { data: any; errors?: { extensions?: { code?: string } }[] };
  }

  test('GraphQL, generated from the schema: project B gets NOT_FOUND / lists without A for every query, mutation and subscription', async () => {
    const schema = buildGraphqlSchema();
    let checked = 0;
    for (const kind of ['query', 'mutation'] as const) {
      const root = kind === 'query' ? schema.getQueryType()! : schema.getMutationType()!;
      for (const field of Object.values(root.getFields())) {
        const op = operation(kind, field);
        const b = await gql(key.b, op.query, op.variables);
        const what = `${kind} ${field.name}`;
        assert.deepEqual(leaksA(b.data), [], `${what} with B's key returned A's data: ${JSON.stringify(b)}`);
        if (op.byId || kind === 'mutation') {
          assert.equal(b.errors?.[0]?.extensions?.code, 'NOT_FOUND', `${what} with B's key: ${JSON.stringify(b)}`);
        } else {
          assert.equal(b.errors, undefined, `${what}: ${JSON.stringify(b.errors)}`);
          // The global admin's list has A's resources.
          const all = await gql(key.admin, op.query, op.variables);
          assert.ok(leaksA(all.data).length > 0, `${what}: the global admin sees A's resources: ${JSON.stringify(all)}`);
        }
        if (kind === 'query' && op.byId) {
          const all = await gql(key.admin, op.query, op.variables);
          assert.equal(all.data?.[field.name]?.id, op.variables.id, `${what} as the global admin: ${JSON.stringify(all)}`);
        }
        checked++;
      }
    }
    for (const field of Object.values(schema.getSubscriptionType()!.getFields())) {
      const op = operation('subscription', field);
      const sub = await wsSubscribe(ctx.baseUrl, op.query, op.variables, bearer(key.b));
      await assert.rejects(sub.done, /NOT_FOUND/, `subscription ${field.name} with B's key`);
      sub.close();
      const admin = await wsSubscribe(ctx.baseUrl, op.query, op.variables, bearer(key.admin));
      await admin.done; // A's finished job: completes without an error
      admin.close();
      checked++;
    }
    assert.ok(checked >= 14, `only ${checked} root fields checked`);
  });

  test('GraphQL nested fields resolve through the same scope; the response cache never crosses projects', async () => {
    const q = `query($id: ID!) { job(id: $id) { projectId model { id projectId } results { id projectId } } }`;
    const admin = await gql(key.admin, q, { id: A.job });
    assert.deepEqual(admin.data.job, {
      projectId: 'team-a',
      model: { id: A.model, projectId: 'team-a' },
      results: [{ id: A.result, projectId: 'team-a' }],
    });
    // A list query answered for A must not be served to B from the cache (the cache is keyed by project).
    const list = `{ models { edges { node { id } } } }`;
    const forA = await gql(key.a, list, {});
    assert.ok(leaksA(forA.data).length > 0);
    assert.deepEqual(leaksA((await gql(key.b, list, {})).data), []);
  });

  test('keys CLI: create-project, create --project (the key sees that project only), projects', async () => {
    const cli = async (...args: string[]) => {
      const lines: string[] = [];
      assert.equal(await runKeysCommand(loadConfig(ctx.env), args, (l) => lines.push(l)), 0, lines.join('\n'));
      return lines;
    };
    assert.match((await cli('create-project', 'team-c', '--name', 'Team C'))[0], /^created project team-c \(Team C\)/);
    const [made, keyC] = await cli('create', '--project', 'team-c', '--scope', 'read', '--name', 'c-reader');
    assert.match(made, /\(c-reader, scope read\) in project team-c;/);
    assert.deepEqual((await as(keyC).get('/v1/models').expect(200)).body.items, []);
    await as(keyC).get(`/v1/models/${A.model}`).expect(404);
    assert.ok((await cli('projects')).some((l) => l.startsWith('team-c\tTeam C\t')));
  });

  test('the global admin reaches A’s deletes; a project-bound admin key cannot mint keys', async () => {
    for (const op of restMatrix().filter((o) => o.kind === 'by-id' && o.method === 'DELETE')) {
      const res = await call(key.admin, op);
      assert.ok(res.status < 300, `${op.method} ${op.path} as global admin: ${res.status} ${JSON.stringify(res.body)}`);
    }
    const minted = await as(key.adminA).post('/v1/keys', { name: 'escalate', scope: 'admin' });
    assert.equal(minted.status, 403);
  });
});
