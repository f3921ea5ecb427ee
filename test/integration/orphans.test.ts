// Orphan sweeper (issue 18): objects of a model or dataset whose row never got written (a killed upload, a worker
// killed while saving its result) are removed once older than the grace period, at start and on each sweep;
// objects of existing rows and young objects (an upload in flight) stay. On both targets; fs temp files of an
// interrupted put too.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startOrphanSweeper, sweepOrphans } from '../../src/domain/orphans.ts';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { forEachTarget, listKeys, startTestApp, type TestContext } from '../helpers/harness.ts';

await forEachTarget('orphan sweeper', (target) => {
  let ctx: TestContext;
  let modelId: string;
  let kept: string[];
  before(async () => {
    ctx = await startTestApp(target);
    const files = await tinyModelFiles(4);
    const res = await ctx.http
      .post('/v1/models')
      .attach('files', files.modelJson, 'model.json')
      .attach('files', files.shards[0].data, files.shards[0].name)
      .expect(201);
    modelId = res.body.id;
    kept = await listKeys(ctx);
  });
  after(async () => ctx?.close());

  /** What a process killed between writing objects and writing the row leaves. */
  const leaveOrphans = async () => {
    const [m, d] = [crypto.randomUUID(), crypto.randomUUID()];
    await ctx.runtime.store.put(`models/${m}/group1-shard1of1.bin`, Buffer.alloc(4096, 1));
    await ctx.runtime.store.put(`models/${m}/model.json`, Buffer.from('{}'));
    await ctx.runtime.store.put(`datasets/${d}/train-x.npy`, Buffer.alloc(4096, 2));
    let temp: string | null = null;
    if (ctx.runtime.store.kind === 'fs') {
      // A put killed mid-stream: its temp file in a folder of its own.
      const dir = path.join(ctx.config.objectsDir, 'models', crypto.randomUUID());
      await fs.mkdir(dir, { recursive: true });
      temp = path.join(dir, `.tmp-${crypto.randomUUID()}`);
      await fs.writeFile(temp, Buffer.alloc(4096));
    }
    return { keys: [`datasets/${d}/train-x.npy`, `models/${m}/group1-shard1of1.bin`, `models/${m}/model.json`], temp };
  };

  test('young orphans stay; old ones go, with temporaries; owned objects stay and still download', async () => {
    const { keys, temp } = await leaveOrphans();
    const young = await sweepOrphans(ctx.runtime, { graceMs: 3600_000 });
    assert.deepEqual(young, { removed: [], temporaries: 0 });
    assert.deepEqual((await listKeys(ctx)).sort(), [...kept, ...keys].sort());
    // An hour later (S3 servers round Last-Modified up to the second, hence a clock ahead rather than grace 0).
    const old = await sweepOrphans(ctx.runtime, { graceMs: 3600_000, now: Date.now() + 3600_000 + 5000 });
    assert.deepEqual(old.removed.sort(), keys);
    assert.equal(old.temporaries, temp ? 1 : 0);
    if (temp) await assert.rejects(fs.stat(path.dirname(temp)), 'the emptied folder is gone too');
    assert.deepEqual((await listKeys(ctx)).sort(), [...kept].sort());
    await ctx.http.get(`/v1/models/${modelId}/files/model.json`).expect(200);
  });

  test('the sweeper runs at start (a restart after a kill leaves nothing)', async () => {
    const { keys } = await leaveOrphans();
    const logs: string[] = [];
    const log = { info: (_: object, m?: string) => logs.push(m ?? ''), warn: (_: object, m?: string) => logs.push(m ?? '') };
    const sweeper = startOrphanSweeper(ctx.runtime, { graceMs: -5000, intervalMs: 0 }, log);
    await sweeper.first;
    sweeper.stop();
    for (const key of keys) assert.equal(await ctx.runtime.store.stat(key), null, key);
    assert.deepEqual((await listKeys(ctx)).sort(), [...kept].sort());
    assert.deepEqual(logs, ['orphan sweep removed objects']);
  });
});
