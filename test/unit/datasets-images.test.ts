import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ingestDataset } from '../../src/domain/datasets/ingest.ts';
import { assertAppError, assertCleanAndRemove, captureWriter, memoryFile, readNpy, tempDir } from '../fixtures/datasets/helpers.ts';
import { channelsOf, jpeg, png } from '../fixtures/datasets/images.ts';
import { renameInZip, zipBytes } from '../fixtures/datasets/zip.ts';

const grayA = { width: 3, height: 2, channels: 1 as const, pixels: [0, 50, 100, 150, 200, 250] };
const grayB = { width: 3, height: 2, channels: 1 as const, pixels: [1, 2, 3, 4, 5, 6] };
const rgba = { width: 3, height: 2, channels: 4 as const, pixels: Array.from({ length: 24 }, (_, i) => i * 10) };

describe('image-folder zip datasets', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await tempDir();
  });
  afterEach(async () => {
    await assertCleanAndRemove(tmp);
  });

  it('reads grayscale class folders under a common top folder as [h, w, 1], skipping junk entries', async () => {
    const [a, b] = [await png(grayA), await png(grayB)];
    assert.equal(await channelsOf(a), 1);
    const zip = await zipBytes([
      { name: 'pets/dog/1.png', data: a },
      { name: 'pets/cat/2.PNG', data: b, compress: false },
      { name: 'pets/dog/3.png', data: b },
      { name: '__MACOSX/pets/dog/._1.png', data: Buffer.from('junk') },
      { name: 'pets/.DS_Store', data: Buffer.from('junk') },
      { name: 'pets/dog/notes.txt', data: Buffer.from('not an image') },
    ]);
    const { write, outputs } = captureWriter();
    const meta = await ingestDataset([memoryFile('pets.zip', zip, 500)], { tmpDir: tmp }, write);
    assert.deepEqual(meta, {
      format: 'images',
      examples: 3,
      featureShape: [2, 3, 1],
      dtype: 'uint8',
      numClasses: 2,
      classNames: ['cat', 'dog'],
      splits: { train: 3 },
      normalization: { scale: 1 / 255, offset: 0 },
    });
    assert.deepEqual(readNpy(outputs.get('train-x')), {
      dtype: 'uint8',
      shape: [3, 2, 3, 1],
      values: [...grayA.pixels, ...grayB.pixels, ...grayB.pixels],
    });
    assert.deepEqual(readNpy(outputs.get('train-y')).values, [1, 0, 1]);
  });

  it('uses 3 channels when any image has colour, drops alpha, resizes to the first image and reads train/test folders', async () => {
    const bigGreen = { width: 6, height: 4, channels: 3 as const, pixels: Array.from({ length: 72 }, (_, i) => (i % 3 === 1 ? 200 : 0)) };
    const zip = await zipBytes([
      { name: 'train/a/gray.png', data: await png(grayA) },
      { name: 'train/b/rgba.png', data: await png(rgba) },
      { name: 'test/b/green.jpg', data: await jpeg(bigGreen) },
    ]);
    const { write, outputs } = captureWriter();
    const meta = await ingestDataset([memoryFile('d.zip', zip)], { tmpDir: tmp }, write);
    assert.deepEqual(meta.featureShape, [2, 3, 3]);
    assert.deepEqual(meta.splits, { train: 2, test: 1 });
    assert.deepEqual(meta.classNames, ['a', 'b']);
    const grayAsRgb = grayA.pixels.flatMap((v) => [v, v, v]);
    const rgbWithoutAlpha = rgba.pixels.filter((_, i) => i % 4 !== 3);
    assert.deepEqual(readNpy(outputs.get('train-x')), { dtype: 'uint8', shape: [2, 2, 3, 3], values: [...grayAsRgb, ...rgbWithoutAlpha] });
    assert.deepEqual(readNpy(outputs.get('train-y')).values, [0, 1]);
    const test = readNpy(outputs.get('test-x'));
    assert.deepEqual(test.shape, [1, 2, 3, 3]);
    for (let i = 0; i < test.values.length; i += 3) {
      assert.ok(test.values[i] < 20 && Math.abs(test.values[i + 1] - 200) < 20 && test.values[i + 2] < 20, `pixel ${i / 3} is not green`);
    }
    assert.deepEqual(readNpy(outputs.get('test-y')).values, [1]);
  });

  it('rejects zip-slip, absolute and backslash entry names without writing anything', async () => {
    const image = await png(grayA);
    for (const [safe, hostile] of [
      ['xx/cat.png', '../cat.png'],
      ['Xcat/a.png', '/cat/a.png'],
      ['cat/xy/a.png', 'cat\\..\\a.png'],
    ]) {
      const zip = renameInZip(
        await zipBytes([
          { name: 'dog/1.png', data: image },
          { name: safe, data: image },
        ]),
        safe,
        hostile,
      );
      const { write, outputs } = captureWriter();
      await assertAppError(
        ingestDataset([memoryFile('d.zip', zip)], { tmpDir: tmp }, write),
        'INVALID_DATASET',
        /bad zip entry: (invalid relative path|absolute path|invalid characters)/,
      );
      assert.equal(outputs.size, 0);
    }
  });

  it('rejects an undecodable image naming the entry, a bad layout and an empty archive', async () => {
    const image = await png(grayA);
    const run = async (members: Array<{ name: string; data: Buffer }>) =>
      ingestDataset([memoryFile('d.zip', await zipBytes(members))], { tmpDir: tmp }, captureWriter().write);
    const broken = await assertAppError(
      run([
        { name: 'cat/1.png', data: image },
        { name: 'cat/2.png', data: image.subarray(0, 40) },
      ]),
      'INVALID_DATASET',
      /cat\/2\.png/,
    );
    assert.equal(broken.details?.entry, 'cat/2.png');
    await assertAppError(run([{ name: 'cat/1.png', data: Buffer.from('not a png') }]), 'INVALID_DATASET', /cannot decode image cat\/1\.png/);
    await assertAppError(
      run([
        { name: 'cat/1.png', data: image },
        { name: 'loose.png', data: image },
      ]),
      'INVALID_DATASET',
      /loose\.png does not fit/,
    );
    await assertAppError(run([{ name: 'readme.txt', data: Buffer.from('hi') }]), 'INVALID_DATASET', /no training images/);
    await assertAppError(run([{ name: 'test/cat/1.png', data: image }]), 'INVALID_DATASET', /no training images/);
  });

  it('enforces maxExamples', async () => {
    const image = await png(grayA);
    const zip = await zipBytes([
      { name: 'a/1.png', data: image },
      { name: 'b/2.png', data: image },
    ]);
    await assertAppError(ingestDataset([memoryFile('d.zip', zip)], { tmpDir: tmp, maxExamples: 1 }, captureWriter().write), 'RESOURCE_LIMIT');
  });
});
