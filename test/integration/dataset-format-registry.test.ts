// A dataset format added in this file only, through the registry: `points` (text lines "label x y"). It must
// reach every list derived from the registry — upload detection, the upload's `format` field, the Dataset
// schema's enum (responses, list filter, OpenAPI) — and its datasets must train and evaluate like any other.
// The format is registered before the app's modules load (they derive their enums at import), hence the
// dynamic imports below.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DatasetFormatDefinition } from '../../src/domain/datasets/formats/format.ts';
import { registerDatasetFormat } from '../../src/domain/datasets/formats/registry.ts';
import { invalidDataset } from '../../src/domain/datasets/parsers/limits.ts';

const pointsFormat: DatasetFormatDefinition = {
  name: 'points',
  filePatterns: [/\.points$/i],
  uploadable: true,
  description: 'a `.points` text file of "label x y" lines',
  async parse(files) {
    if (files.length !== 1) throw invalidDataset('a points dataset is one .points file');
    let text = '';
    for await (const chunk of await files[0].open()) text += String(chunk);
    const rows = text
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => line.trim().split(/\s+/));
    const classNames = [...new Set(rows.map(([label]) => label))].sort();
    const features = Float32Array.from(rows.flatMap(([, x, y]) => [Number(x), Number(y)]));
    return {
      featureShape: [2],
      dtype: 'float32',
      classNames,
      train: {
        x: {
          rows: rows.length,
          data: async function* () {
            yield new Uint8Array(features.buffer);
          },
        },
        y: Int32Array.from(rows.map(([label]) => classNames.indexOf(label))),
      },
    };
  },
};
registerDatasetFormat(pointsFormat);

const { forEachTarget, startTestApp } = await import('../helpers/harness.ts');
const { finished, waitForJob } = await import('../helpers/jobs.ts');
type TestContext = Awaited<ReturnType<typeof startTestApp>>;

/** Two well separated clusters: "near" around (0, 0), "far" around (4, 4). */
function pointsFile(n: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const far = i % 2 === 1;
    const jitter = ((i * 7919) % 100) / 100 - 0.5;
    lines.push(`${far ? 'far' : 'near'} ${(far ? 4 : 0) + jitter} ${(far ? 4 : 0) - jitter}`);
  }
  return Buffer.from(lines.join('\n') + '\n');
}

test('the registry refuses duplicates, and registrations once the list has been read', () => {
  assert.throws(() => registerDatasetFormat(pointsFormat), /already registered/);
  assert.throws(() => registerDatasetFormat({ ...pointsFormat, name: 'late' }), /after the format list was read/);
});

await forEachTarget('a dataset format registered by a test', (target) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(target, { MODELPRESS_BACKEND: 'wasm' }, { worker: { concurrency: 1 } });
  });
  after(async () => ctx?.close());

  let datasetId: string;

  test('upload: detected from the file name, listed and filtered by format, in the OpenAPI enums', async () => {
    const res = await ctx.http.post('/v1/datasets').field('name', 'clusters').attach('files', pointsFile(80), 'clusters.points').expect(201);
    assert.equal(res.body.format, 'points');
    assert.equal(res.body.examples, 80);
    assert.deepEqual(res.body.classNames, ['far', 'near']);
    assert.deepEqual(res.body.featureShape, [2]);
    datasetId = res.body.id;

    const explicit = await ctx.http.post('/v1/datasets').field('format', 'points').attach('files', pointsFile(10), 'clusters.points').expect(201);
    assert.equal(explicit.body.format, 'points');
    const listed = await ctx.http.get('/v1/datasets?format=points').expect(200);
    assert.deepEqual(listed.body.items.map((d: { id: string }) => d.id).sort(), [datasetId, explicit.body.id].sort());

    const builtinUpload = await ctx.http.post('/v1/datasets').field('format', 'builtin').attach('files', pointsFile(10), 'x.points').expect(400);
    assert.equal(builtinUpload.body.code, 'VALIDATION_FAILED');
    assert.match(builtinUpload.body.detail, /csv, npy, npz, idx, images, points/);

    const doc = (await ctx.http.get('/openapi.json').expect(200)).body;
    assert.ok(JSON.stringify(doc.components.schemas.Dataset.properties.format).includes('"points"'));
    const upload = doc.paths['/v1/datasets'].post.requestBody.content['multipart/form-data'].schema;
    assert.ok(upload.properties.format.enum.includes('points'), JSON.stringify(upload.properties.format));
    assert.match(doc.paths['/v1/datasets'].post.description, /or a `\.points` text file/);
  });

  test('train and evaluate jobs consume it', async () => {
    const create = async (body: Record<string, unknown>) => (await ctx.http.post('/v1/jobs').send(body).expect(201)).body as { id: string };
    const train = await waitForJob(
      ctx,
      (
        await create({
          type: 'train',
          datasetId,
          params: {
            architecture: { layers: [{ type: 'dense', units: 8, activation: 'relu' }] },
            epochs: 20,
            batchSize: 8,
            learningRate: 0.05,
            validationSplit: 0,
            seed: 0,
          },
        })
      ).id,
      finished,
      120_000,
    );
    assert.equal(train.status, 'succeeded', JSON.stringify(train.error));
    const [modelId] = train.resultModelIds as string[];
    const evaluate = await waitForJob(
      ctx,
      (await create({ type: 'evaluate', modelId, datasetId, params: { split: 'train' } })).id,
      finished,
      120_000,
    );
    assert.equal(evaluate.status, 'succeeded', JSON.stringify(evaluate.error));
    const report = evaluate.report as { accuracy: number; examples: number; split: string };
    assert.equal(report.examples, 80);
    assert.equal(report.split, 'train');
    assert.ok(report.accuracy >= 0.9, `accuracy ${report.accuracy} on two separated clusters`);
  });
});
