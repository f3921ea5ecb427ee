import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ingestDataset } from '../../src/domain/datasets/ingest.ts';
import { assertAppError, assertCleanAndRemove, captureWriter, memoryFile, npyBytes, readNpy, tempDir } from '../fixtures/datasets/helpers.ts';
import { zipBytes } from '../fixtures/datasets/zip.ts';

describe('NPZ datasets', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await tempDir();
  });
  afterEach(async () => {
    await assertCleanAndRemove(tmp);
  });

  it('reads stored and deflated members, with and without the .npy suffix', async () => {
    const npz = await zipBytes([
      { name: 'x_train.npy', data: npyBytes('float32', [2, 2], [1, 2, 3, 4]), compress: false },
      { name: 'y_train', data: npyBytes('int64', [2], [1, 0]), compress: true },
      { name: 'x_test.npy', data: npyBytes('float32', [1, 2], [5, 6]), compress: true },
      { name: 'y_test.npy', data: npyBytes('uint8', [1], [4]), compress: false },
    ]);
    const { write, outputs } = captureWriter();
    const meta = await ingestDataset([memoryFile('data.npz', npz, 1000)], { tmpDir: tmp }, write);
    assert.deepEqual(meta, {
      format: 'npz',
      examples: 3,
      featureShape: [2],
      dtype: 'float32',
      numClasses: 5,
      classNames: ['0', '1', '2', '3', '4'],
      splits: { train: 2, test: 1 },
      normalization: { scale: 1, offset: 0 },
    });
    assert.deepEqual(readNpy(outputs.get('train-x')), { dtype: 'float32', shape: [2, 2], values: [1, 2, 3, 4] });
    assert.deepEqual(readNpy(outputs.get('train-y')).values, [1, 0]);
    assert.deepEqual(readNpy(outputs.get('test-x')).values, [5, 6]);
    assert.deepEqual(readNpy(outputs.get('test-y')).values, [4]);
  });

  it('streams a multi-megabyte deflated member', async () => {
    const n = 20_000;
    const pixels = Array.from({ length: n * 64 }, (_, i) => (i * 7) % 256);
    const npz = await zipBytes([
      { name: 'x.npy', data: npyBytes('uint8', [n, 8, 8], pixels) },
      {
        name: 'y.npy',
        data: npyBytes(
          'int32',
          [n],
          Array.from({ length: n }, (_, i) => i % 10),
        ),
      },
    ]);
    const { write, outputs } = captureWriter();
    const meta = await ingestDataset([memoryFile('big.npz', npz, 65536)], { tmpDir: tmp }, write);
    assert.equal(meta.examples, n);
    assert.deepEqual(meta.featureShape, [8, 8]);
    const x = readNpy(outputs.get('train-x'));
    assert.deepEqual(x.shape, [n, 8, 8]);
    assert.deepEqual(x.values.slice(-3), pixels.slice(-3));
    assert.equal(readNpy(outputs.get('train-y')).values[n - 1], (n - 1) % 10);
  });

  it('rejects a corrupt archive, a member with bad data and missing arrays', async () => {
    const run = (npz: Buffer) => ingestDataset([memoryFile('d.npz', npz, 1000)], { tmpDir: tmp }, captureWriter().write);
    await assertAppError(run(Buffer.from('this is not a zip file at all, really')), 'INVALID_DATASET', /not a valid zip/);
    const short = npyBytes('float32', [2, 2], [1, 2, 3, 4]).subarray(0, 130);
    await assertAppError(
      run(
        await zipBytes([
          { name: 'x.npy', data: short },
          { name: 'y.npy', data: npyBytes('int32', [2], [0, 1]) },
        ]),
      ),
      'INVALID_DATASET',
      /x\.npy: data is shorter/,
    );
    await assertAppError(run(await zipBytes([{ name: 'x.npy', data: npyBytes('int32', [1], [0]) }])), 'INVALID_DATASET', /needs both x/);
    const good = await zipBytes([
      {
        name: 'x.npy',
        data: npyBytes(
          'float32',
          [64, 4],
          Array.from({ length: 256 }, (_, i) => i),
        ),
      },
      { name: 'y.npy', data: npyBytes('int32', [64], Array(64).fill(0)), compress: false },
    ]);
    const corrupt = Buffer.from(good);
    corrupt.fill(0xff, 30 + 'x.npy'.length + 4, 30 + 'x.npy'.length + 40); // inside x.npy's deflate stream
    await assertAppError(run(corrupt), 'INVALID_DATASET', /cannot read x\.npy/);
  });
});
