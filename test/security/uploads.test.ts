// Hostile model uploads (issue 18): topologies whose build used to block the API (an Orthogonal LSTM: 38 s) or bypass
// the parameter limit (a Dense 30000×30000 under a tiny manifest), 20,000 layers, NaN weights, a stray file. Each is
// refused with a 4xx problem+json while /healthz stays responsive, and nothing is stored.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { forEachTarget, startTestApp, type TestContext } from '../helpers/harness.ts';
import { assertNothingLeft, assertProblem, underProbe } from '../helpers/hostile.ts';

const topology = (layers: unknown[]) => ({ class_name: 'Sequential', config: { name: 'm', layers } });
const modelJson = (layers: unknown[], weights: { name: string; shape: number[]; dtype: string }[] = [], paths: string[] = []) =>
  Buffer.from(JSON.stringify({ format: 'layers-model', modelTopology: topology(layers), weightsManifest: [{ paths, weights }] }));

await forEachTarget('hostile model uploads', (target) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(target);
  });
  after(async () => ctx?.close());

  const upload = async (files: { name: string; data: Buffer }[]) => {
    let req = ctx.http.post('/v1/models').field('name', 'hostile');
    for (const f of files) req = req.attach('files', f.data, f.name);
    const res = await req;
    return { status: res.status, headers: res.headers as Record<string, string>, body: res.body as { code?: string } };
  };

  test('topologies are sized without building weights: LSTM with Orthogonal init, Dense 30000×30000, 20,000 layers', async () => {
    await underProbe(ctx, 'model topologies', async () => {
      const lstm = modelJson([
        {
          class_name: 'LSTM',
          config: { units: 256, batch_input_shape: [null, 10, 256], recurrent_initializer: { class_name: 'Orthogonal', config: {} } },
        },
      ]);
      assertProblem(await upload([{ name: 'model.json', data: lstm }]), 422, 'MISSING_WEIGHTS');
      const dense = modelJson(
        [{ class_name: 'Dense', config: { units: 30000, batch_input_shape: [null, 30000] } }],
        [{ name: 'dense/bias', shape: [4], dtype: 'float32' }],
        ['w.bin'],
      );
      const res = await upload([
        { name: 'model.json', data: dense },
        { name: 'w.bin', data: Buffer.alloc(16) },
      ]);
      assertProblem(res, 422, 'RESOURCE_LIMIT');
      const deep = modelJson(
        Array.from({ length: 20_000 }, (_, i) => ({ class_name: 'Dense', config: i ? { units: 2 } : { units: 2, batch_input_shape: [null, 2] } })),
      );
      assertProblem(await upload([{ name: 'model.json', data: deep }]), 422, 'RESOURCE_LIMIT');
    });
    await assertNothingLeft(ctx);
  });

  test('NaN or Infinity in float32 weights, a stray file, a shape-mismatched manifest are refused', async () => {
    const files = await tinyModelFiles(4);
    const shard = files.shards[0];
    await underProbe(ctx, 'model contents', async () => {
      for (const bad of [NaN, Infinity]) {
        const data = Buffer.from(shard.data);
        data.writeFloatLE(bad, data.length - 8);
        assertProblem(
          await upload([
            { name: 'model.json', data: files.modelJson },
            { name: shard.name, data },
          ]),
          422,
          'INVALID_MODEL',
        );
      }
      const stray = await upload([
        { name: 'model.json', data: files.modelJson },
        { name: shard.name, data: shard.data },
        { name: 'notes.txt', data: Buffer.from('hi') },
      ]);
      assertProblem(stray, 422, 'INVALID_MODEL');
      const json = JSON.parse(files.modelJson.toString());
      const [k0] = json.weightsManifest[0].weights;
      k0.shape = [k0.shape[1], k0.shape[0]]; // same byte count, wrong shape
      const swapped = await upload([
        { name: 'model.json', data: Buffer.from(JSON.stringify(json)) },
        { name: shard.name, data: shard.data },
      ]);
      assertProblem(swapped, 422, 'WEIGHTS_MISMATCH');
    });
    await assertNothingLeft(ctx);
    const ok = await upload([
      { name: 'model.json', data: files.modelJson },
      { name: shard.name, data: shard.data },
    ]);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });
});
