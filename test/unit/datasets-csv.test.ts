import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { ingestDataset } from '../../src/domain/datasets/ingest.ts';
import { assertAppError, assertCleanAndRemove, captureWriter, memoryFile, readNpy, tempDir } from '../fixtures/datasets/helpers.ts';

describe('CSV datasets', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await tempDir();
  });
  afterEach(async () => {
    await assertCleanAndRemove(tmp);
  });

  it('writes float32 features and string labels as sorted class indices', async () => {
    const csv = 'a,label,b\n1.5,dog,2\n-3,cat,4e2\n\n0,dog,0.25\n';
    const { write, outputs } = captureWriter();
    const meta = await ingestDataset([memoryFile('pets.csv', csv)], { tmpDir: tmp }, write);
    assert.deepEqual(meta, {
      format: 'csv',
      examples: 3,
      featureShape: [2],
      dtype: 'float32',
      numClasses: 2,
      classNames: ['cat', 'dog'],
      splits: { train: 3 },
      normalization: { scale: 1, offset: 0 },
    });
    assert.deepEqual(readNpy(outputs.get('train-x')), { dtype: 'float32', shape: [3, 2], values: [1.5, 2, -3, 400, 0, 0.25] });
    assert.deepEqual(readNpy(outputs.get('train-y')), { dtype: 'int32', shape: [3], values: [1, 0, 1] });
    assert.deepEqual([...outputs.keys()], ['train-x', 'train-y']);
  });

  it('sorts numeric labels numerically, honours labelColumn and reads a *test*.csv split by column name', async () => {
    const train = 'y,f1,f2\n10,1,2\n2,3,4\n9,5,6\n';
    const test = 'f2,y,f1\n8,2,7\n';
    const { write, outputs } = captureWriter();
    const meta = await ingestDataset(
      [memoryFile('data/train.csv', train), memoryFile('data/my_test.csv', test)],
      { tmpDir: tmp, labelColumn: 'y', format: 'csv' },
      write,
    );
    assert.deepEqual(meta.classNames, ['2', '9', '10']);
    assert.deepEqual(meta.splits, { train: 3, test: 1 });
    assert.equal(meta.examples, 4);
    assert.deepEqual(readNpy(outputs.get('train-y')).values, [2, 0, 1]);
    assert.deepEqual(readNpy(outputs.get('test-x')), { dtype: 'float32', shape: [1, 2], values: [7, 8] });
    assert.deepEqual(readNpy(outputs.get('test-y')).values, [0]);
  });

  it('rejects a ragged row naming its line', async () => {
    const err = await assertAppError(
      ingestDataset([memoryFile('d.csv', 'a,label\n1,x\n2,y,3\n')], { tmpDir: tmp }, captureWriter().write),
      'INVALID_DATASET',
      /line 3/,
    );
    assert.equal(err.details?.line, 3);
  });

  it('rejects a non-numeric feature naming line and column', async () => {
    await assertAppError(
      ingestDataset([memoryFile('d.csv', 'a,b,label\n1,2,x\n1,two,y\n')], { tmpDir: tmp }, captureWriter().write),
      'INVALID_DATASET',
      /line 3, column "b": "two"/,
    );
    await assertAppError(
      ingestDataset([memoryFile('d.csv', 'a,b,label\n1,,x\n')], { tmpDir: tmp }, captureWriter().write),
      'INVALID_DATASET',
      /line 2, column "b"/,
    );
  });

  it('rejects a missing label column, an empty file, a header without rows and broken quoting', async () => {
    const run = (csv: string, labelColumn?: string) => ingestDataset([memoryFile('d.csv', csv)], { tmpDir: tmp, labelColumn }, captureWriter().write);
    await assertAppError(run('a,b\n1,2\n'), 'INVALID_DATASET', /no label column "label"/);
    await assertAppError(run('a,label\n1,2\n', 'class'), 'INVALID_DATASET', /no label column "class"/);
    await assertAppError(run(''), 'INVALID_DATASET', /empty/);
    await assertAppError(run('a,label\n'), 'INVALID_DATASET', /no data rows/);
    await assertAppError(run('a,label\n"1,x\n'), 'INVALID_DATASET', /d\.csv/);
  });

  it('enforces maxExamples with RESOURCE_LIMIT', async () => {
    const { write, outputs } = captureWriter();
    await assertAppError(ingestDataset([memoryFile('d.csv', 'a,label\n1,x\n2,y\n3,z\n')], { tmpDir: tmp, maxExamples: 2 }, write), 'RESOURCE_LIMIT');
    assert.equal(outputs.size, 0, 'nothing is written for a rejected dataset');
  });

  it('passes storage and writer failures through unchanged and still removes its temp files', async () => {
    const failingSource = {
      path: 'd.csv',
      sizeBytes: 100,
      open: async () =>
        Readable.from(
          (async function* () {
            yield Buffer.from('a,label\n1,x\n');
            throw new Error('connection reset');
          })(),
        ),
    };
    await assert.rejects(ingestDataset([failingSource], { tmpDir: tmp }, captureWriter().write), /connection reset/);
    const failingWriter = async () => {
      throw new Error('bucket is gone');
    };
    await assert.rejects(ingestDataset([memoryFile('d.csv', 'a,label\n1,x\n')], { tmpDir: tmp }, failingWriter), /bucket is gone/);
  });
});
