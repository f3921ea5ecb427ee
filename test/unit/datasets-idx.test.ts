import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { detectFormat } from '../../src/domain/datasets/formats/registry.ts';
import { ingestDataset } from '../../src/domain/datasets/ingest.ts';
import { assertAppError, assertCleanAndRemove, captureWriter, memoryFile, readNpy, tempDir } from '../fixtures/datasets/helpers.ts';
import { idxImages, idxLabels } from '../fixtures/datasets/idx.ts';

describe('IDX datasets', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await tempDir();
  });
  afterEach(async () => {
    await assertCleanAndRemove(tmp);
  });

  const trainPixels = [0, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 60, 255, 254, 253, 252, 251, 250];

  it('reads plain and gzipped files into uint8 [n, rows, cols, 1] with sorted string classes', async () => {
    const files = [
      memoryFile('train-images-idx3-ubyte', idxImages(3, 2, 3, trainPixels)),
      memoryFile('train-labels.idx1-ubyte', idxLabels([7, 3, 7])),
      memoryFile('t10k-images-idx3-ubyte.gz', gzipSync(idxImages(1, 2, 3, [9, 8, 7, 6, 5, 4]))),
      memoryFile('t10k-labels-idx1-ubyte.gz', gzipSync(idxLabels([3]))),
    ];
    assert.equal(detectFormat(files.map((f) => f.path)).name, 'idx');
    const { write, outputs } = captureWriter();
    const meta = await ingestDataset(files, { tmpDir: tmp }, write);
    assert.deepEqual(meta, {
      format: 'idx',
      examples: 4,
      featureShape: [2, 3, 1],
      dtype: 'uint8',
      numClasses: 2,
      classNames: ['3', '7'],
      splits: { train: 3, test: 1 },
      normalization: { scale: 1 / 255, offset: 0 },
    });
    assert.deepEqual(readNpy(outputs.get('train-x')), { dtype: 'uint8', shape: [3, 2, 3, 1], values: trainPixels });
    assert.deepEqual(readNpy(outputs.get('train-y')), { dtype: 'int32', shape: [3], values: [1, 0, 1] });
    assert.deepEqual(readNpy(outputs.get('test-x')), { dtype: 'uint8', shape: [1, 2, 3, 1], values: [9, 8, 7, 6, 5, 4] });
    assert.deepEqual(readNpy(outputs.get('test-y')).values, [0]);
  });

  it('rejects count mismatches, wrong byte lengths, bad magic and bad gzip', async () => {
    const run = (images: Buffer, labels: Buffer, imagesName = 'train-images-idx3-ubyte') =>
      ingestDataset([memoryFile(imagesName, images), memoryFile('train-labels-idx1-ubyte', labels)], { tmpDir: tmp }, captureWriter().write);
    const labels3 = idxLabels([1, 2, 3]);
    await assertAppError(run(idxImages(3, 2, 3, trainPixels), idxLabels([1, 2])), 'INVALID_DATASET', /3 images but .* 2 labels/);
    await assertAppError(run(idxImages(3, 2, 3, trainPixels.slice(1)), labels3), 'INVALID_DATASET', /shorter than its header/);
    await assertAppError(run(idxImages(3, 2, 3, [...trainPixels, 0]), labels3), 'INVALID_DATASET', /more data than its header/);
    const labelsClaimingFour = Buffer.from(labels3);
    labelsClaimingFour.writeUInt32BE(4, 4);
    await assertAppError(run(idxImages(3, 2, 3, trainPixels), labelsClaimingFour), 'INVALID_DATASET', /train-labels-idx1-ubyte: data is shorter/);
    await assertAppError(run(idxLabels([1, 2, 3]), labels3), 'INVALID_DATASET', /IDX magic 0x00000801, expected 0x00000803/);
    await assertAppError(run(idxImages(3, 2, 3, trainPixels), labels3, 'train-images-idx3-ubyte.gz'), 'INVALID_DATASET', /not valid gzip/);
    await assertAppError(run(idxImages(3, 2, 3, []).subarray(0, 9), labels3), 'INVALID_DATASET', /ends inside the IDX header/);
  });

  it('rejects incomplete splits and unexpected files', async () => {
    const images = memoryFile('train-images-idx3-ubyte', idxImages(3, 2, 3, trainPixels));
    await assertAppError(ingestDataset([images], { tmpDir: tmp }, captureWriter().write), 'INVALID_DATASET', /needs both/);
    await assertAppError(
      ingestDataset([images, memoryFile('readme.txt', 'hi')], { tmpDir: tmp, format: 'idx' }, captureWriter().write),
      'INVALID_DATASET',
      /unexpected file readme\.txt/,
    );
  });
});
