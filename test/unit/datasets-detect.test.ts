import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectFormat as detect } from '../../src/domain/datasets/formats/registry.ts';
import { assertAppError } from '../fixtures/datasets/helpers.ts';

const detectFormat = (paths: string[]) => detect(paths).name;

describe('detectFormat', () => {
  it('tells each format from its file names', () => {
    assert.equal(detectFormat(['iris.csv']), 'csv');
    assert.equal(detectFormat(['train.CSV', 'my-test.csv']), 'csv');
    assert.equal(detectFormat(['x.npy', 'y.npy']), 'npy');
    assert.equal(detectFormat(['arrays.npz']), 'npz');
    assert.equal(detectFormat(['pets.zip']), 'images');
    assert.equal(detectFormat(['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']), 'idx');
    assert.equal(detectFormat(['mnist/train-images.idx3-ubyte', 'mnist/train-labels.idx1-ubyte', 'notes.txt']), 'idx');
  });

  it('throws INVALID_DATASET when it cannot tell', async () => {
    await assertAppError(
      Promise.resolve().then(() => detectFormat(['data.bin'])),
      'INVALID_DATASET',
      /cannot tell/,
    );
    await assertAppError(
      Promise.resolve().then(() => detectFormat([])),
      'INVALID_DATASET',
      /cannot tell/,
    );
    await assertAppError(
      Promise.resolve().then(() => detectFormat(['a.csv', 'x.npy'])),
      'INVALID_DATASET',
      /several dataset formats/,
    );
  });
});
