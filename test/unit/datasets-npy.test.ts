import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ingestDataset } from '../../src/domain/datasets/ingest.ts';
import { assertAppError, assertCleanAndRemove, captureWriter, memoryFile, npyBytes, readNpy, tempDir } from '../fixtures/datasets/helpers.ts';

describe('NPY datasets', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await tempDir();
  });
  afterEach(async () => {
    await assertCleanAndRemove(tmp);
  });

  it('keeps uint8 features as uint8 (scale 1/255) and reads int64 labels', async () => {
    const x = npyBytes('uint8', [3, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 255]);
    const y = npyBytes('int64', [3], [2, 0, 2]);
    const { write, outputs } = captureWriter();
    const meta = await ingestDataset([memoryFile('x.npy', x), memoryFile('y.npy', y)], { tmpDir: tmp }, write);
    assert.deepEqual(meta, {
      format: 'npy',
      examples: 3,
      featureShape: [2, 2],
      dtype: 'uint8',
      numClasses: 3,
      classNames: ['0', '1', '2'],
      splits: { train: 3 },
      normalization: { scale: 1 / 255, offset: 0 },
    });
    assert.deepEqual(readNpy(outputs.get('train-x')), { dtype: 'uint8', shape: [3, 2, 2], values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 255] });
    assert.deepEqual(readNpy(outputs.get('train-y')), { dtype: 'int32', shape: [3], values: [2, 0, 2] });
  });

  it('converts float64 features to float32, one-hot labels by argmax, and reads a test split', async () => {
    const files = [
      memoryFile('x_train.npy', npyBytes('float64', [2, 3], [0.5, -1, 2, 3, 4, 1e10])),
      memoryFile('y_train.npy', npyBytes('float32', [2, 4], [0, 0, 1, 0, 1, 0, 0, 0])),
      memoryFile('x_test.npy', npyBytes('int16', [1, 3], [-7, 0, 300])),
      memoryFile('y_test.npy', npyBytes('float64', [1], [3])),
    ];
    const { write, outputs } = captureWriter();
    const meta = await ingestDataset(files, { tmpDir: tmp }, write);
    assert.equal(meta.dtype, 'float32');
    assert.deepEqual(meta.featureShape, [3]);
    assert.deepEqual(meta.classNames, ['0', '1', '2', '3']);
    assert.deepEqual(meta.splits, { train: 2, test: 1 });
    assert.deepEqual(readNpy(outputs.get('train-x')), { dtype: 'float32', shape: [2, 3], values: [0.5, -1, 2, 3, 4, Math.fround(1e10)] });
    assert.deepEqual(readNpy(outputs.get('train-y')).values, [2, 0]);
    assert.deepEqual(readNpy(outputs.get('test-x')), { dtype: 'float32', shape: [1, 3], values: [-7, 0, 300] });
    assert.deepEqual(readNpy(outputs.get('test-y')).values, [3]);
  });

  it('writes uint8 training data as float32 when the test split is float', async () => {
    const files = [
      memoryFile('x_train.npy', npyBytes('uint8', [1, 2], [1, 255])),
      memoryFile('y_train.npy', npyBytes('int32', [1], [0])),
      memoryFile('x_test.npy', npyBytes('float32', [1, 2], [0.5, 1])),
      memoryFile('y_test.npy', npyBytes('int32', [1], [1])),
    ];
    const { write, outputs } = captureWriter();
    const meta = await ingestDataset(files, { tmpDir: tmp }, write);
    assert.equal(meta.dtype, 'float32');
    assert.deepEqual(meta.normalization, { scale: 1, offset: 0 });
    assert.deepEqual(readNpy(outputs.get('train-x')).values, [1, 255]);
  });

  it('rejects mismatched lengths, short and long data, bad headers and non-integer labels', async () => {
    const y2 = npyBytes('int32', [2], [0, 1]);
    const x2 = npyBytes('float32', [2, 2], [1, 2, 3, 4]);
    const run = (x: Buffer, y: Buffer) => ingestDataset([memoryFile('x.npy', x), memoryFile('y.npy', y)], { tmpDir: tmp }, captureWriter().write);
    await assertAppError(run(npyBytes('float32', [3, 2], [1, 2, 3, 4, 5, 6]), y2), 'INVALID_DATASET', /3 examples but y\.npy has 2/);
    await assertAppError(run(x2.subarray(0, x2.length - 1), y2), 'INVALID_DATASET', /x\.npy: data is shorter/);
    await assertAppError(run(Buffer.concat([x2, Buffer.from([0])]), y2), 'INVALID_DATASET', /x\.npy: more data than/);
    await assertAppError(run(Buffer.concat([Buffer.from('NOTNPY....'), x2]), y2), 'INVALID_DATASET', /x\.npy: invalid \.npy file: bad magic/);
    await assertAppError(run(x2.subarray(0, 20), y2), 'INVALID_DATASET', /x\.npy: file ends inside the npy header/);
    const bigEndian = Buffer.from(x2.toString('latin1').replace("'<f4'", "'>f4'"), 'latin1');
    await assertAppError(run(bigEndian, y2), 'INVALID_DATASET', /unsupported dtype >f4/);
    await assertAppError(run(x2, npyBytes('float32', [2], [0, 1.5])), 'INVALID_DATASET', /y\.npy\[1\] = 1\.5 is not a class id/);
    await assertAppError(run(x2, npyBytes('int32', [2], [0, -1])), 'INVALID_DATASET', /not a class id/);
    await assertAppError(run(x2, npyBytes('int32', [2, 1, 1], [0, 1])), 'INVALID_DATASET', /1-D class ids or a 2-D one-hot/);
  });

  it('rejects missing or unexpected arrays and enforces maxExamples before writing anything', async () => {
    const x = memoryFile('x.npy', npyBytes('uint8', [2, 1], [1, 2]));
    const y = memoryFile('y.npy', npyBytes('uint8', [2], [0, 1]));
    await assertAppError(ingestDataset([x], { tmpDir: tmp }, captureWriter().write), 'INVALID_DATASET', /needs both x/);
    await assertAppError(
      ingestDataset([x, y, memoryFile('z.npy', npyBytes('uint8', [1], [1]))], { tmpDir: tmp }, captureWriter().write),
      'INVALID_DATASET',
      /unexpected array z\.npy/,
    );
    await assertAppError(
      ingestDataset([x, y, memoryFile('x_train.npy', npyBytes('uint8', [1], [1]))], { tmpDir: tmp }, captureWriter().write),
      'INVALID_DATASET',
      /same array/,
    );
    const { write, outputs } = captureWriter();
    await assertAppError(ingestDataset([x, y], { tmpDir: tmp, maxExamples: 1 }, write), 'RESOURCE_LIMIT');
    assert.equal(outputs.size, 0);
  });
});
