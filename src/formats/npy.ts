// NumPy .npy format (v1.0/2.0/3.0), the canonical on-store layout of dataset tensors:
//   magic "\x93NUMPY", major, minor, header length (u16 for v1, u32 for v2/3), a Python-dict header, raw data.
// Only little-endian / byte-sized, C-order numeric arrays are supported.
import { Readable } from 'node:stream';
import { AppError } from '../errors.ts';

export type NpyDtype = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64' | 'int64' | 'bool';

const DESCR_TO_DTYPE: Record<string, NpyDtype> = {
  '|u1': 'uint8',
  '<u1': 'uint8',
  '|i1': 'int8',
  '<i1': 'int8',
  '|b1': 'bool',
  '<i2': 'int16',
  '<u2': 'uint16',
  '<i4': 'int32',
  '<u4': 'uint32',
  '<f4': 'float32',
  '<f8': 'float64',
  '<i8': 'int64',
};
const DTYPE_TO_DESCR: Record<NpyDtype, string> = {
  uint8: '|u1',
  int8: '|i1',
  bool: '|b1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  float32: '<f4',
  float64: '<f8',
  int64: '<i8',
};
export const DTYPE_BYTES: Record<NpyDtype, number> = {
  uint8: 1,
  int8: 1,
  bool: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
  int64: 8,
};

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first data byte. */
  dataOffset: number;
  /** Number of data bytes the header promises. */
  dataBytes: number;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const invalid = (msg: string) => new AppError('INVALID_DATASET', `invalid .npy file: ${msg}`);

/** Length of the prefix needed to parse a header, or null if `buf` is too short to tell yet. */
export function npyHeaderLength(buf: Buffer): number | null {
  if (buf.length < 10) return null;
  if (!buf.subarray(0, 6).equals(MAGIC)) throw invalid('bad magic');
  const major = buf[6];
  if (major === 1) return 10 + buf.readUInt16LE(8);
  if (major === 2 || major === 3) return buf.length < 12 ? null : 12 + buf.readUInt32LE(8);
  throw invalid(`unsupported version ${major}`);
}

/** Parses the header at the start of `buf` (which must hold at least npyHeaderLength(buf) bytes). */
export function parseNpyHeader(buf: Buffer): NpyHeader {
  const total = npyHeaderLength(buf);
  if (total === null || buf.length < total) throw invalid('truncated header');
  if (total > 1 << 20) throw invalid('header too large');
  const start = buf[6] === 1 ? 10 : 12;
  const text = buf.subarray(start, total).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw invalid('malformed header dict');
  if (fortran === 'True') throw invalid('fortran_order arrays are not supported');
  const dtype = DESCR_TO_DTYPE[descr];
  if (!dtype) throw invalid(`unsupported dtype ${descr}`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(n) || n < 0) throw invalid(`bad dimension ${s}`);
      return n;
    });
  const elements = shape.reduce((a, b) => a * b, 1);
  const dataBytes = elements * DTYPE_BYTES[dtype];
  if (!Number.isSafeInteger(dataBytes)) throw invalid('array too large');
  return { dtype, shape, dataOffset: total, dataBytes };
}

/** Builds a v1.0 header whose total length is a multiple of 64, as numpy writes it. */
export function buildNpyHeader(dtype: NpyDtype, shape: number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${DTYPE_TO_DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1')]);
}

/** A typed-array view over little-endian npy data (copying when unaligned). */
export function npyTypedArray(
  dtype: NpyDtype,
  data: Buffer,
): Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array {
  const aligned = data.byteOffset % DTYPE_BYTES[dtype] === 0 ? data : Buffer.from(data);
  const n = aligned.byteLength / DTYPE_BYTES[dtype];
  switch (dtype) {
    case 'uint8':
    case 'bool':
      return new Uint8Array(aligned.buffer, aligned.byteOffset, n);
    case 'int8':
      return new Int8Array(aligned.buffer, aligned.byteOffset, n);
    case 'int16':
      return new Int16Array(aligned.buffer, aligned.byteOffset, n);
    case 'uint16':
      return new Uint16Array(aligned.buffer, aligned.byteOffset, n);
    case 'int32':
      return new Int32Array(aligned.buffer, aligned.byteOffset, n);
    case 'uint32':
      return new Uint32Array(aligned.buffer, aligned.byteOffset, n);
    case 'float32':
      return new Float32Array(aligned.buffer, aligned.byteOffset, n);
    case 'float64':
      return new Float64Array(aligned.buffer, aligned.byteOffset, n);
    case 'int64':
      return new BigInt64Array(aligned.buffer, aligned.byteOffset, n);
  }
}

/** A complete .npy file as a stream: a v1.0 header for `dtype`/`shape` followed by the `data` chunks (never buffered whole). */
export function npyReadable(dtype: NpyDtype, shape: number[], data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Readable {
  return Readable.from(
    (async function* () {
      yield buildNpyHeader(dtype, shape);
      yield* data;
    })(),
    { objectMode: false },
  );
}
