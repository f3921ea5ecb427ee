// Fuzzing every upload parser through HTTP: valid seeds (model.json + shard, model zip, CSV, NPY, NPZ, IDX,
// image zip) are mutated (bit flips, truncation, inserted bytes, random bodies, JSON values swapped in
// model.json, hostile file names, dropped or doubled files) by fast-check with a fixed seed. Every response
// must be a 4xx or a 201, never a 5xx or a hang, and after each one the database rows and store objects are
// back to what they were (a 201 is deleted again). MODELPRESS_FUZZ_RUNS overrides the run counts.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import sharp from 'sharp';
import { buildNpyHeader } from '../../src/formats/npy.ts';
import { idxImages, idxLabels } from '../fixtures/datasets/idx.ts';
import { renameInZip } from '../fixtures/datasets/zip.ts';
import { tinyModelFiles, zipBuffer } from '../helpers/fixtures.ts';
import { forEachTarget, listKeys, rowCounts, startTestApp, type TestContext } from '../helpers/harness.ts';

const SEED = 20261127;
const HOSTILE_NAMES = [
  '../model.json',
  '../../etc/passwd',
  '/etc/passwd',
  'C:\\windows\\x.bin',
  '..\\..\\x.bin',
  'a/../../b.bin',
  'a\u0000b.bin',
  '\u0000',
  '．．／．．／x.bin',
  '\u202Egnp.exe',
  'model.json\u202E',
  'mo\u0301del.json',
  '%2e%2e%2fx.bin',
  '.',
  '..',
  '',
  ' ',
  'a'.repeat(600),
  'x/./././y.bin',
  '\u2215etc\u2215passwd',
  'CON',
  'nul.bin',
  '\ufeffmodel.json',
];

interface SeedFile {
  name: string;
  data: Buffer;
}
interface Seed {
  label: string;
  resource: 'models' | 'datasets';
  files: SeedFile[];
  fields?: Record<string, string>;
}

async function buildSeeds(): Promise<Seed[]> {
  const m = await tinyModelFiles(4);
  const modelFiles = [
    { name: 'model.json', data: m.modelJson },
    { name: m.shards[0].name, data: m.shards[0].data },
  ];
  const npy = (dtype: 'float32' | 'int32', shape: number[], arr: Float32Array | Int32Array) =>
    Buffer.concat([buildNpyHeader(dtype, shape), Buffer.from(arr.buffer)]);
  const x = npy('float32', [4, 3], new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  const y = npy('int32', [4], new Int32Array([0, 1, 0, 1]));
  const png = (v: number) =>
    sharp({ create: { width: 4, height: 4, channels: 3, background: { r: v, g: v, b: v } } })
      .png()
      .toBuffer();
  return [
    { label: 'model.json+shard', resource: 'models', files: modelFiles },
    { label: 'model zip', resource: 'models', files: [{ name: 'model.zip', data: await zipBuffer(modelFiles) }] },
    {
      label: 'csv',
      resource: 'datasets',
      files: [{ name: 'd.csv', data: Buffer.from('a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n7,8.5,bird\n') }],
      fields: { labelColumn: 'label' },
    },
    {
      label: 'npy',
      resource: 'datasets',
      files: [
        { name: 'x.npy', data: x },
        { name: 'y.npy', data: y },
      ],
    },
    {
      label: 'npz',
      resource: 'datasets',
      files: [
        {
          name: 'd.npz',
          data: await zipBuffer([
            { name: 'x.npy', data: x },
            { name: 'y.npy', data: y },
          ]),
        },
      ],
    },
    {
      label: 'idx',
      resource: 'datasets',
      files: [
        { name: 'train-images-idx3-ubyte', data: idxImages(3, 2, 2, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]) },
        { name: 'train-labels-idx1-ubyte', data: idxLabels([0, 1, 2]) },
      ],
    },
    {
      label: 'images zip',
      resource: 'datasets',
      files: [
        {
          name: 'img.zip',
          data: await zipBuffer([
            { name: 'a/1.png', data: await png(10) },
            { name: 'b/1.png', data: await png(200) },
          ]),
        },
      ],
    },
  ];
}

type Mutation =
  | { kind: 'flip'; at: number[]; mask: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'json'; at: number; value: unknown }
  | { kind: 'rename'; name: string }
  | { kind: 'drop' }
  | { kind: 'double' };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 4096 }) }),
  fc.record({ kind: fc.constant('json' as const), at: fc.nat(), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({
    kind: fc.constant('rename' as const),
    name: fc.oneof(fc.constantFrom(...HOSTILE_NAMES), fc.string({ unit: 'binary', maxLength: 40 })),
  }),
  fc.record({ kind: fc.constant('drop' as const) }),
  fc.record({ kind: fc.constant('double' as const) }),
);

/** A zip whose entry is named `name` exactly (yazl refuses unsafe names: written safe, then renamed in place). */
async function zipWithEntry(name: string, data: Buffer, others: SeedFile[]): Promise<Buffer> {
  const raw = Buffer.from(name, 'utf8').toString('latin1');
  const placeholder = 'Q'.repeat(Math.max(raw.length, 1));
  const zip = await zipBuffer([{ name: placeholder, data }, ...others]);
  return raw.length ? renameInZip(zip, placeholder, raw) : zip;
}

/** Replaces the n-th value (depth-first) of a JSON document. */
function replaceJsonValue(doc: unknown, n: number, value: unknown): unknown {
  const slots: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (v && typeof v === 'object')
      for (const [k, child] of Object.entries(v)) {
        slots.push({ parent: v as never, key: Array.isArray(v) ? Number(k) : k });
        walk(child);
      }
  };
  walk(doc);
  if (slots.length === 0) return value;
  const s = slots[n % slots.length];
  (s.parent as Record<string | number, unknown>)[s.key] = value;
  return doc;
}

function mutate(files: SeedFile[], fileIndex: number, m: Mutation): SeedFile[] {
  const out = files.map((f) => ({ ...f, data: Buffer.from(f.data) }));
  if (out.length === 0) return out;
  const i = fileIndex % out.length;
  const f = out[i];
  switch (m.kind) {
    case 'flip':
      for (const at of m.at) if (f.data.length) f.data[at % f.data.length] ^= m.mask;
      break;
    case 'truncate':
      f.data = f.data.subarray(0, f.data.length ? m.at % f.data.length : 0);
      break;
    case 'insert': {
      const at = f.data.length ? m.at % f.data.length : 0;
      f.data = Buffer.concat([f.data.subarray(0, at), Buffer.from(m.bytes), f.data.subarray(at)]);
      break;
    }
    case 'random':
      f.data = Buffer.from(m.bytes);
      break;
    case 'json':
      try {
        f.data = Buffer.from(JSON.stringify(replaceJsonValue(JSON.parse(f.data.toString('utf8')), m.at, m.value)));
      } catch {
        f.data = Buffer.from(JSON.stringify(m.value)); // not JSON (a shard, a CSV): the file becomes a JSON value
      }
      break;
    case 'rename':
      f.name = m.name;
      break;
    case 'drop':
      out.splice(i, 1);
      break;
    case 'double':
      out.push({ ...f });
      break;
  }
  return out;
}

const KEY_PATTERN = /^(models|datasets)\/[0-9a-f-]{36}\/[0-9a-f-]{36}$/;

await forEachTarget('fuzzed uploads', (target) => {
  let ctx: TestContext;
  let seeds: Seed[];
  before(async () => {
    ctx = await startTestApp(target);
    seeds = await buildSeeds();
  });
  after(async () => ctx?.close());

  const snapshot = async () => ({
    rows: await rowCounts(ctx),
    keys: [...(await listKeys(ctx, 'models/')), ...(await listKeys(ctx, 'datasets/'))].sort(),
  });

  async function send(seed: Seed, files: SeedFile[]) {
    let req = ctx.http.post(`/v1/${seed.resource}`).timeout({ response: 30_000, deadline: 60_000 });
    for (const [k, v] of Object.entries(seed.fields ?? {})) req = req.field(k, v);
    // supertest drops an empty filename; send it as a field-named part instead
    for (const f of files) req = req.attach('files', f.data, { filename: f.name || ' ', contentType: 'application/octet-stream' });
    return req;
  }

  test('every seed is accepted unmutated (201)', async () => {
    for (const seed of seeds) {
      const res = await send(seed, seed.files);
      assert.equal(res.status, 201, `${seed.label}: ${res.text}`);
      await ctx.http.delete(`/v1/${seed.resource}/${res.body.id}`).expect(204);
    }
  });

  test('hostile file names and zip-slip entries never escape the object prefix', async () => {
    const base = await snapshot();
    const m = seeds[0].files;
    for (const name of HOSTILE_NAMES) {
      for (const files of [
        [{ name, data: m[0].data }, m[1]],
        [{ name: 'model.zip', data: await zipWithEntry(name, m[0].data, [m[1]]) }],
        [{ name: 'm.zip', data: await zipWithEntry(`../../${name}`, m[1].data, [m[0]]) }],
      ]) {
        const res = await send(seeds[0], files);
        assert.ok(res.status === 201 || (res.status >= 400 && res.status < 500), `${JSON.stringify(name)} → ${res.status} ${res.text}`);
        if (res.status === 201) {
          const keys = await listKeys(ctx, `models/${res.body.id}/`);
          assert.ok(keys.length > 0 && keys.every((k) => KEY_PATTERN.test(k)), `server-generated keys only: ${keys}`);
          for (const f of res.body.files as { path: string }[])
            assert.ok(!f.path.split('/').includes('..') && !f.path.startsWith('/') && !f.path.includes('\0'), f.path);
          await ctx.http.delete(`/v1/models/${res.body.id}`).expect(204);
        }
      }
    }
    assert.deepEqual(await snapshot(), base);
    if (ctx.runtime.store.kind === 'fs') {
      // Nothing was written beside the object root (a path that escaped would land in the data dir).
      const dataDir = path.dirname(ctx.config.objectsDir);
      const entries = await fs.readdir(dataDir, { recursive: true });
      assert.deepEqual(
        entries.filter((e) => /passwd|x\.bin|model\.json|evil/.test(e)),
        [],
      );
    }
  });

  test('mutated and random inputs: always 4xx or 201, nothing left behind', { timeout: 600_000 }, async () => {
    const runs = Number(process.env.MODELPRESS_FUZZ_RUNS ?? (target === 'embedded' ? 1000 : 250));
    const base = await snapshot();
    const statuses = new Map<number, number>();
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: seeds.length - 1 }),
        fc.nat(),
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        async (s, fileIndex, mutations) => {
          const seed = seeds[s];
          const files = mutations.reduce((acc, m) => mutate(acc, fileIndex, m), seed.files);
          const res = await send(seed, files).catch((err: Error) => {
            console.log(`# fuzz: ${seed.label} ${JSON.stringify(mutations).slice(0, 300)} → request failed: ${err.message}`);
            throw err;
          });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500 || res.status < 200)
            console.log(`# fuzz: ${seed.label} ${JSON.stringify(mutations).slice(0, 300)} → ${res.status} ${res.text.slice(0, 500)}`);
          const where = `${seed.label} ${JSON.stringify(mutations).slice(0, 300)} → ${res.status} ${res.text.slice(0, 300)}`;
          if (res.status === 201) {
            accepted++;
            await ctx.http.delete(`/v1/${seed.resource}/${res.body.id}`).expect(204);
          } else {
            assert.ok(res.status >= 400 && res.status < 500, where);
            assert.match(res.headers['content-type'], /problem\+json/, where);
          }
          const after = await snapshot();
          if (JSON.stringify(after) !== JSON.stringify(base))
            console.log(`# fuzz: left behind after ${where}: ${JSON.stringify(after).slice(0, 500)}`);
          assert.deepEqual(after, base, `left behind after ${where}`);
        },
      ),
      { seed: SEED, numRuns: runs, endOnFailure: true, verbose: 1 },
    );
    console.log(`# ${target}: ${runs} fuzzed uploads, ${accepted} accepted; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok(statuses.size > 1, 'the mutations reached both outcomes');
  });
});
