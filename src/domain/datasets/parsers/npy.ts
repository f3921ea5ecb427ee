// NPY: x.npy + y.npy (or x_train/y_train, optionally x_test/y_test). Shared with the NPZ parser, whose members
// are the same arrays inside a zip. x: any numeric dtype (uint8 kept, everything else → float32);
// y: integer class ids (integral floats accepted), an [n, 1] column of them, or a one-hot [n, k] array (argmax).
import type { Readable } from 'node:stream';
import { AppError } from '../../../errors.ts';
import { DTYPE_BYTES, npyHeaderLength, npyTypedArray, parseNpyHeader, type NpyDtype, type NpyHeader } from '../../../formats/npy.ts';
import { ByteReader } from './byte-reader.ts';
import { IntList } from './labels.ts';
import { MAX_CLASSES, invalidDataset } from './limits.ts';
import { baseName } from './source-name.ts';
import { RowSpool } from './spool.ts';
import type { DatasetParser, ParseContext, ParsedDataset, ParsedSplit } from './types.ts';

/** One named array: a file of an NPY upload or a member of an NPZ. */
export interface NpyArraySource {
  name: string;
  open(): Promise<Readable>;
}

/** numpy writes headers of well under 1 KiB; a padded one is a way to make the parser buffer and scan junk. */
const MAX_HEADER_BYTES = 16 * 1024;

type Slot = 'xTrain' | 'yTrain' | 'xTest' | 'yTest';
const SLOT_BY_NAME: Record<string, Slot> = { x: 'xTrain', x_train: 'xTrain', y: 'yTrain', y_train: 'yTrain', x_test: 'xTest', y_test: 'yTest' };

export const parseNpy: DatasetParser = async (files, ctx) => {
  const notNpy = files.find((f) => !/\.npy$/i.test(f.path));
  if (notNpy) throw invalidDataset(`unexpected file ${notNpy.path} in an NPY dataset`);
  return readNpyArrays(
    files.map((f) => ({ name: baseName(f.path), open: () => f.open() })),
    ctx,
  );
};

/** Validates all headers first (nothing is spooled for a dataset that cannot fit together), then streams the data. */
export async function readNpyArrays(sources: NpyArraySource[], ctx: ParseContext): Promise<ParsedDataset> {
  const slots = assignSlots(sources);
  const headers = new Map<Slot, NpyHeader>();
  for (const [slot, source] of slots) headers.set(slot, await peekHeader(source));
  const xTrain = headers.get('xTrain')!;
  const featureShape = featuresOf(xTrain, slots.get('xTrain')!);
  checkSplit(slots, headers, 'xTrain', 'yTrain', featureShape, ctx);
  const hasTest = slots.has('xTest');
  if (hasTest) checkSplit(slots, headers, 'xTest', 'yTest', featureShape, ctx);
  const dtype = [...headers].every(([slot, h]) => slot.startsWith('y') || h.dtype === 'uint8') ? 'uint8' : 'float32';
  // The expansion budget is charged from the headers, before any array is read or spooled.
  for (const [slot, h] of headers) {
    const elements = h.shape.reduce((a, b) => a * b, 1);
    ctx.budget.expand(elements, slot.startsWith('y') ? 4 : dtype === 'uint8' ? 1 : 4, slots.get(slot)!.name);
  }

  const trainLabels = await readLabels(slots.get('yTrain')!);
  const testLabels = hasTest ? await readLabels(slots.get('yTest')!) : undefined;
  const numClasses = Math.max(trainLabels.numClasses, testLabels?.numClasses ?? 0);
  const train: ParsedSplit = { x: await spoolFeatures(slots.get('xTrain')!, dtype, ctx, 'train'), y: trainLabels.ids };
  const test: ParsedSplit | undefined = testLabels && { x: await spoolFeatures(slots.get('xTest')!, dtype, ctx, 'test'), y: testLabels.ids };
  return { featureShape, dtype, classNames: Array.from({ length: numClasses }, (_, i) => String(i)), train, test };
}

function assignSlots(sources: NpyArraySource[]): Map<Slot, NpyArraySource> {
  const slots = new Map<Slot, NpyArraySource>();
  for (const source of sources) {
    const slot = SLOT_BY_NAME[source.name.replace(/\.npy$/i, '').toLowerCase()];
    if (!slot) throw invalidDataset(`unexpected array ${source.name}: expected x/y, x_train/y_train, x_test/y_test`);
    if (slots.has(slot)) throw invalidDataset(`${source.name} and ${slots.get(slot)!.name} are the same array`);
    slots.set(slot, source);
  }
  if (!slots.has('xTrain') || !slots.has('yTrain')) throw invalidDataset('an NPY dataset needs both x (or x_train) and y (or y_train)');
  if (slots.has('xTest') !== slots.has('yTest')) throw invalidDataset('x_test and y_test must come together');
  return slots;
}

async function readHeader(reader: ByteReader, name: string): Promise<NpyHeader> {
  try {
    let prefix = await reader.read(10, 'npy header');
    let length = npyHeaderLength(prefix);
    if (length === null) {
      prefix = Buffer.concat([prefix, await reader.read(2, 'npy header')]);
      length = npyHeaderLength(prefix)!;
    }
    if (length > MAX_HEADER_BYTES) throw invalidDataset(`header of ${length} bytes (at most ${MAX_HEADER_BYTES})`);
    return parseNpyHeader(Buffer.concat([prefix, await reader.read(length - prefix.length, 'npy header')]));
  } catch (err) {
    if (err instanceof AppError) throw invalidDataset(`${name}: ${err.message}`);
    throw err;
  }
}

async function peekHeader(source: NpyArraySource): Promise<NpyHeader> {
  const reader = new ByteReader(await source.open(), source.name);
  try {
    return await readHeader(reader, source.name);
  } finally {
    await reader.close();
  }
}

function featuresOf(x: NpyHeader, source: NpyArraySource): number[] {
  if (x.shape.length === 0) throw invalidDataset(`${source.name} is a scalar, not an array of examples`);
  const featureShape = x.shape.length === 1 ? [1] : x.shape.slice(1);
  if (featureShape.includes(0)) throw invalidDataset(`${source.name} has no features (shape ${JSON.stringify(x.shape)})`);
  return featureShape;
}

function checkSplit(
  slots: Map<Slot, NpyArraySource>,
  headers: Map<Slot, NpyHeader>,
  xSlot: Slot,
  ySlot: Slot,
  featureShape: number[],
  ctx: ParseContext,
) {
  const [x, y] = [headers.get(xSlot)!, headers.get(ySlot)!];
  const [xName, yName] = [slots.get(xSlot)!.name, slots.get(ySlot)!.name];
  const shape = featuresOf(x, slots.get(xSlot)!);
  if (shape.join() !== featureShape.join()) throw invalidDataset(`${xName} has example shape [${shape}], the training data [${featureShape}]`);
  if (y.shape.length < 1 || y.shape.length > 2) throw invalidDataset(`${yName} must be 1-D class ids or a 2-D one-hot array, not shape [${y.shape}]`);
  if (y.dtype === 'bool' && y.shape.length === 1) throw invalidDataset(`${yName} is boolean; class ids must be numbers`);
  if (x.shape[0] !== y.shape[0]) throw invalidDataset(`${xName} has ${x.shape[0]} examples but ${yName} has ${y.shape[0]} labels`);
  ctx.budget.take(x.shape[0]);
}

/** Converts to float32; NaN and ±Infinity (also float64 values beyond float32's range) are refused, as in CSV. */
function toFloat32(dtype: NpyDtype, chunk: Buffer, name: string, offset: number): Uint8Array {
  const values = npyTypedArray(dtype, chunk);
  const out = new Float32Array(values.length);
  if (values instanceof BigInt64Array)
    values.forEach((v, i) => {
      out[i] = Number(v);
    });
  else out.set(values);
  if (dtype === 'float32' || dtype === 'float64') {
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i])) {
        throw invalidDataset(`${name}: element ${offset + i} is ${values[i]}, not a finite float32 number`, { array: name, element: offset + i });
      }
    }
  }
  return new Uint8Array(out.buffer);
}

async function spoolFeatures(source: NpyArraySource, dtype: 'uint8' | 'float32', ctx: ParseContext, split: string) {
  const reader = new ByteReader(await source.open(), source.name);
  try {
    const header = await readHeader(reader, source.name);
    const spool = await RowSpool.create(ctx, `${split}-x.${dtype}`);
    let offset = 0;
    for await (const chunk of reader.exact(header.dataBytes, DTYPE_BYTES[header.dtype])) {
      await spool.append(dtype === 'uint8' ? chunk : toFloat32(header.dtype, chunk, source.name, offset));
      offset += chunk.length / DTYPE_BYTES[header.dtype];
    }
    return await spool.finish(header.shape[0]);
  } finally {
    await reader.close();
  }
}

/** Class ids of every row, and how many classes they imply (max id + 1, or the one-hot width). */
async function readLabels(source: NpyArraySource): Promise<{ ids: Int32Array; numClasses: number }> {
  const reader = new ByteReader(await source.open(), source.name);
  try {
    const header = await readHeader(reader, source.name);
    const width = header.shape.length === 2 ? header.shape[1] : 1;
    if (width === 0 || width > MAX_CLASSES) throw invalidDataset(`${source.name}: a one-hot width of ${width} is not supported`);
    const ids = new IntList();
    let maxId = -1;
    let column = 0;
    let best = -Infinity;
    let bestAt = 0;
    for await (const chunk of reader.exact(header.dataBytes, DTYPE_BYTES[header.dtype])) {
      const values = npyTypedArray(header.dtype, chunk);
      for (let i = 0; i < values.length; i++) {
        const value = Number(values[i]);
        if (width === 1) {
          if (!Number.isInteger(value) || value < 0 || value >= MAX_CLASSES) {
            throw invalidDataset(`${source.name}[${ids.length}] = ${value} is not a class id (an integer 0..${MAX_CLASSES - 1})`);
          }
          ids.push(value);
          maxId = Math.max(maxId, value);
          continue;
        }
        if (!Number.isFinite(value)) throw invalidDataset(`${source.name}: one-hot value ${value} at row ${ids.length} is not finite`);
        if (value > best) [best, bestAt] = [value, column];
        if (++column === width) {
          ids.push(bestAt);
          [column, best, bestAt] = [0, -Infinity, 0];
        }
      }
    }
    return { ids: ids.toInt32Array(), numClasses: width === 1 ? maxId + 1 : width };
  } finally {
    await reader.close();
  }
}
