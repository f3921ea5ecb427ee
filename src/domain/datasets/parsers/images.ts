// Image folders in a zip: <class>/<file>.png|jpg|jpeg, optionally under one common top folder and/or train/ and
// test/ folders. Every image is resized to the first image's size; 1 channel if every image is grayscale, else
// 3 (alpha dropped). Pixels are spooled as RGB and reduced to one channel on output when all were gray. Image sizes
// are read from headers and charged to the expansion budget before any image is decoded.
import type { Readable } from 'node:stream';
import sharp from 'sharp';
import type { Entry } from 'yauzl';
import { AppError, isAppError } from '../../../errors.ts';
import { ByteReader } from './byte-reader.ts';
import { IntList, sortClassNames } from './labels.ts';
import { invalidDataset } from './limits.ts';
import { RowSpool } from './spool.ts';
import type { DatasetParser, SpooledFeatures } from './types.ts';
import { openZip } from './zip.ts';

const IMAGE_NAME = /\.(png|jpe?g)$/i;
/** Largest single image file accepted (it is decoded from memory). */
const MAX_IMAGE_BYTES = 64 << 20;

type Split = 'train' | 'test';
interface LabeledImage {
  entry: Entry;
  split: Split;
  className: string;
}
interface Size {
  width: number;
  height: number;
}

export const parseImageZip: DatasetParser = async (files, ctx) => {
  if (files.length !== 1 || !/\.zip$/i.test(files[0].path)) throw invalidDataset('an image dataset is exactly one .zip file');
  const zip = await openZip(files[0], ctx);
  const images = labelImages(zip.entries.filter(isImageEntry));
  if (!images.some((image) => image.split === 'train')) throw invalidDataset(`${files[0].path} holds no training images (<class>/<file>.png|jpg)`);
  ctx.budget.take(images.length);
  const classNames = sortClassNames(new Set(images.map((image) => image.className)));
  const classIndex = new Map(classNames.map((name, i) => [name, i]));

  const splits = new Map<Split, { spool: RowSpool; labels: IntList }>();
  // Every image is resized to the first one's size, so the decoded pixels (spooled as RGB) are known from that
  // image's header before anything is decoded.
  const first = await readEntry(images[0].entry, await zip.open(images[0].entry));
  const firstSize = await headerSize(first, images[0].entry.fileName, ctx.budget.maxImagePixels);
  ctx.budget.expand(images.length * firstSize.width * firstSize.height * 3, 1, files[0].path);

  let size: Size | undefined;
  let allGray = true;
  for (const [i, image] of images.entries()) {
    const bytes = i === 0 ? first : await readEntry(image.entry, await zip.open(image.entry));
    const decoded = await decode(bytes, image.entry.fileName, size, ctx.budget.maxImagePixels);
    size ??= decoded.size;
    allGray &&= decoded.gray;
    let split = splits.get(image.split);
    if (!split) {
      split = { spool: await RowSpool.create(ctx, `${image.split}-x.rgb`), labels: new IntList() };
      splits.set(image.split, split);
    }
    await split.spool.append(decoded.rgb);
    split.labels.push(classIndex.get(image.className)!);
  }

  const { width, height } = size!;
  const finish = async (split: Split) => {
    const parts = splits.get(split);
    if (!parts) return undefined;
    const rows = parts.labels.length;
    const rgb = await parts.spool.finish(rows);
    const x: SpooledFeatures = allGray ? { rows, data: () => firstChannel(rgb.data(), rows * height * width * 3) } : rgb;
    return { x, y: parts.labels.toInt32Array() };
  };
  return {
    featureShape: [height, width, allGray ? 1 : 3],
    dtype: 'uint8',
    classNames,
    train: (await finish('train'))!,
    test: await finish('test'),
  };
};

function isImageEntry(entry: Entry): boolean {
  const segments = entry.fileName.split('/');
  if (entry.fileName.endsWith('/') || segments.some((s) => s === '__MACOSX' || s.startsWith('.'))) return false;
  return IMAGE_NAME.test(entry.fileName);
}

/** Split and class of each image from its path: [top/][train|test/]<class>/<file>. */
function labelImages(entries: Entry[]): LabeledImage[] {
  let paths = entries.map((entry) => entry.fileName.split('/'));
  const top = paths[0]?.[0];
  const isSplitFolder = (name: string | undefined) => name === 'train' || name === 'test';
  if (paths.length > 0 && !isSplitFolder(top) && paths.every((p) => p.length >= 3 && p[0] === top)) paths = paths.map((p) => p.slice(1));
  const withSplits = paths.some((p) => p.length === 3);
  return entries.map((entry, i) => {
    const p = paths[i];
    if (withSplits ? p.length !== 3 || !isSplitFolder(p[0]) : p.length !== 2) {
      throw invalidDataset(`zip entry ${entry.fileName} does not fit the layout [top/][train|test/]<class>/<image>`);
    }
    return withSplits ? { entry, split: p[0] as Split, className: p[1] } : { entry, split: 'train', className: p[0] };
  });
}

async function readEntry(entry: Entry, stream: Readable): Promise<Buffer> {
  if (entry.uncompressedSize > MAX_IMAGE_BYTES) {
    stream.destroy();
    throw invalidDataset(`${entry.fileName} is larger than ${MAX_IMAGE_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Width and height from the image's header (nothing decoded); PAYLOAD_TOO_LARGE above maxPixels. */
async function headerSize(bytes: Buffer, name: string, maxPixels: number): Promise<Size> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(bytes, { failOn: 'error' }).metadata();
  } catch (err) {
    throw invalidDataset(`cannot decode image ${name}: ${(err as Error).message}`, { entry: name });
  }
  const { width = 0, height = 0 } = meta;
  if (width * height > maxPixels) {
    throw new AppError('PAYLOAD_TOO_LARGE', `image ${name} is ${width}x${height}, more than ${maxPixels} pixels`, {
      limit: 'imagePixels',
      maxImagePixels: maxPixels,
      entry: name,
    });
  }
  return { width, height };
}

/** Raw RGB pixels (gray replicated into 3 channels), resized to `size` when given and different. */
async function decode(bytes: Buffer, name: string, size: Size | undefined, maxPixels: number): Promise<{ rgb: Buffer; gray: boolean; size: Size }> {
  await headerSize(bytes, name, maxPixels);
  const limitInputPixels = Number.isFinite(maxPixels) ? maxPixels : true;
  try {
    const meta = await sharp(bytes, { failOn: 'error', limitInputPixels }).metadata();
    const gray = (meta.channels ?? 3) <= 2;
    let image = sharp(bytes, { failOn: 'error', limitInputPixels });
    if (size && (meta.width !== size.width || meta.height !== size.height)) image = image.resize(size.width, size.height, { fit: 'fill' });
    const { data, info } = await image
      .removeAlpha()
      .toColourspace(gray ? 'b-w' : 'srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== (gray ? 1 : 3)) throw new Error(`unexpected ${info.channels} channels after decoding`);
    return { rgb: gray ? grayToRgb(data) : data, gray, size: { width: info.width, height: info.height } };
  } catch (err) {
    if (isAppError(err)) throw err;
    throw invalidDataset(`cannot decode image ${name}: ${(err as Error).message}`, { entry: name });
  }
}

function grayToRgb(gray: Buffer): Buffer {
  const rgb = Buffer.allocUnsafe(gray.length * 3);
  for (let i = 0; i < gray.length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
  return rgb;
}

async function* firstChannel(rgb: AsyncIterable<Uint8Array>, bytes: number): AsyncGenerator<Buffer> {
  for await (const chunk of new ByteReader(rgb, 'image spool').exact(bytes, 3)) {
    const gray = Buffer.allocUnsafe(chunk.length / 3);
    for (let i = 0; i < gray.length; i++) gray[i] = chunk[3 * i];
    yield gray;
  }
}
