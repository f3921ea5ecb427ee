// Post-training weight quantization into the standard TF.js weights-manifest format: each quantized entry gets
// `quantization: { dtype: 'uint8' | 'uint16', scale, min }` or `{ dtype: 'float16' }`, which stock
// tf.loadLayersModel / tf.io.decodeWeights dequantize on load (value = q * scale + min, in float64, stored as
// float32). Per tensor only: the manifest has one scale/min per entry, so per-output-channel quantization cannot
// be expressed without changing the model's topology (splitting kernels), which stock loaders would not undo.
import { tf } from '../../tf.ts';
import { AppError } from '../../../errors.ts';

export type QuantizationDtype = 'float16' | 'uint8' | 'uint16';

export interface QuantizeOptions {
  /** Return true to keep a float32 entry unquantized. */
  skip?: (spec: tf.io.WeightsManifestEntry) => boolean;
  /**
   * uint8 only: a symmetric grid of codes ZERO_CODE ± `halfLevels` (e.g. 31: 63 levels, 6 bits) instead of the 256
   * codes spread over [min, max], every entry with the same zero code (see quantizeSymmetric).
   */
  halfLevels?: number;
}

export interface QuantizeResult {
  specs: tf.io.WeightsManifestEntry[];
  data: ArrayBuffer;
  /** Per quantized weight: max |original - dequantized| over its elements, as tfjs would dequantize it. */
  maxAbsError: Record<string, number>;
}

const QUANTIZED_BYTES: Record<QuantizationDtype, number> = { uint8: 1, uint16: 2, float16: 2 };
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

function elementCount(spec: tf.io.WeightsManifestEntry): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

/** Byte length of one entry at `offset` (strings are length-prefixed per element). */
function entryBytes(spec: tf.io.WeightsManifestEntry, buf: ArrayBuffer, offset: number): number {
  const n = elementCount(spec);
  if (spec.quantization) return n * QUANTIZED_BYTES[spec.quantization.dtype];
  if (spec.dtype === 'string') {
    const view = new DataView(buf);
    let len = 0;
    for (let i = 0; i < n; i++) len += 4 + view.getUint32(offset + len, true);
    return len;
  }
  return n * DTYPE_BYTES[spec.dtype];
}

/** Float32 → IEEE half bits, round to nearest even; subnormals kept, overflow → ±Infinity. */
export function float32ToFloat16Bits(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is the correct result
  return half;
}

/** Half bits → number (same result as tfjs-core's float16 decoder). */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function quantizeFloat16(name: string, values: Float32Array): { bytes: Uint8Array; maxErr: number } {
  const out = new Uint16Array(values.length);
  let maxErr = 0;
  for (let i = 0; i < values.length; i++) {
    const h = float32ToFloat16Bits(values[i]);
    const back = float16BitsToNumber(h);
    if (!Number.isFinite(back)) {
      throw new AppError('INVALID_JOB_PARAMS', `weight ${name} has a value (${values[i]}) outside the float16 range`, { weight: name });
    }
    out[i] = h;
    maxErr = Math.max(maxErr, Math.abs(back - values[i]));
  }
  return { bytes: new Uint8Array(out.buffer), maxErr };
}

/**
 * Affine parameters for `bits`-bit codes. When the range spans 0, min is nudged (as TF-Lite nudges its zero point)
 * so that q = zeroPoint dequantizes to exactly 0: min = -(zeroPoint * scale), and tfjs computes
 * zeroPoint * scale + min with the same float64 product, giving 0. Pruned zeros thus stay zero.
 */
export function affineParams(
  lo: number,
  hi: number,
  bits: 8 | 16,
  opts: { short?: boolean } = {},
): { scale: number; min: number; zeroPoint: number | null } {
  const qmax = 2 ** bits - 1;
  if (hi === lo) return { scale: 1, min: lo, zeroPoint: lo === 0 ? 0 : null };
  const exact = (hi - lo) / qmax;
  if (lo > 0 || hi < 0) return { scale: exact, min: lo, zeroPoint: null };
  // short (what goes to a manifest): a step of few digits, see shortSteps.
  for (const scale of opts.short ? shortSteps(exact) : []) {
    const zeroPoint = Math.min(qmax, Math.max(0, Math.round(-lo / scale)));
    const min = -(zeroPoint * scale);
    // Still covers [lo, hi] within half a step at both ends, and min prints as briefly as the scale.
    const covers = lo >= min - scale / 2 && hi <= min + qmax * scale + scale / 2;
    if (covers && String(min).length <= String(scale).length + 3) return { scale, min, zeroPoint };
  }
  const zeroPoint = Math.min(qmax, Math.max(0, Math.round(-lo / exact)));
  return { scale: exact, min: -(zeroPoint * exact), zeroPoint };
}

/**
 * Steps a hair above `exact` (at most 1e-5 of it) with few significant digits, shortest first: model.json prints
 * scale and min in full, and 17-digit numbers in every quantized entry cost a small artifact's gzip ~10 bytes each.
 */
function* shortSteps(exact: number): Generator<number> {
  for (let digits = 6; digits <= 9; digits++) {
    const unit = 10 ** (Math.floor(Math.log10(exact)) - digits + 1);
    const first = Math.ceil(exact / unit - 1e-3);
    for (let k = 0; k < 4; k++) {
      const scale = Number(((first + k) * unit).toPrecision(digits + 1));
      // (1 − 1e-7: a range re-derived from values already on this grid, float32 ones too, gives back the same step.)
      if (scale >= exact * (1 - 1e-7) && scale <= exact * (1 + 1e-5)) yield scale;
    }
  }
}

/**
 * Per-tensor affine codes of `values` and their parameters, exactly as written to the manifest; tfjs dequantizes
 * code q to fround(q * scale + min). Quantization-aware training fake-quantizes with this same function.
 */
export function quantizeAffine(name: string, values: Float32Array, bits: 8 | 16) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) throw new AppError('INVALID_MODEL', `weight ${name} has non-finite values`, { weight: name });
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (values.length === 0) lo = hi = 0;
  const { scale, min, zeroPoint } = affineParams(lo, hi, bits, { short: true });
  const qmax = 2 ** bits - 1;
  const codes = bits === 8 ? new Uint8Array(values.length) : new Uint16Array(values.length);
  let maxErr = 0;
  for (let i = 0; i < values.length; i++) {
    const q = values[i] === 0 && zeroPoint !== null ? zeroPoint : Math.min(qmax, Math.max(0, Math.round((values[i] - min) / scale)));
    codes[i] = q;
    maxErr = Math.max(maxErr, Math.abs(Math.fround(q * scale + min) - values[i]));
  }
  return { bytes: new Uint8Array(codes.buffer), scale, min, maxErr };
}

/** The code of 0 on every symmetric grid (quantizeSymmetric): the same byte in every tensor. */
export const ZERO_CODE = 128;

/**
 * uint8 codes on a symmetric grid: value = (q − ZERO_CODE) · scale, q within ZERO_CODE ± halfLevels, scale = max|v| /
 * halfLevels rounded up to 3 significant digits (short in model.json; min = −ZERO_CODE · scale, so q = ZERO_CODE is
 * exactly 0). Still a stock uint8 manifest entry. What it buys is gzip, not raw bytes: every tensor's codes come
 * from the same few byte values around one zero code, so one deflate Huffman table serves them all. On a clustered
 * tensor (2^bits distinct values, src/ml/compress/cluster) it moves each centroid by at most scale/2 (1/62 of
 * max|v| at 31) — far less than the spacing of 3-bit centroids. LeNet-5 pruned 95% → 3-bit clusters → uint8: the
 * weights file gzips to 5,819 bytes at 31 instead of 6,161 on the 256-code grid.
 */
export function quantizeSymmetric(name: string, values: Float32Array, halfLevels: number) {
  if (!Number.isInteger(halfLevels) || halfLevels < 1 || halfLevels > 127)
    throw new AppError('INVALID_JOB_PARAMS', `halfLevels ${halfLevels} must be an integer in 1..127`, { field: 'halfLevels' });
  let m = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) throw new AppError('INVALID_MODEL', `weight ${name} has non-finite values`, { weight: name });
    m = Math.max(m, Math.abs(v));
  }
  let scale = 1;
  if (m > 0) {
    const exact = m / halfLevels;
    const unit = 10 ** (Math.floor(Math.log10(exact)) - 2);
    scale = Number((Math.ceil(exact / unit - 1e-9) * unit).toPrecision(3));
    // A min that prints short as well (−ZERO_CODE · scale is exact in float64: ZERO_CODE is a power of two).
    for (let k = 0; k < 8 && String(ZERO_CODE * scale).length > String(scale).length + 3; k++) scale = Number((scale + unit).toPrecision(3));
    if (scale * halfLevels < m) scale = exact; // (cannot happen: rounded up; kept as a guard)
  }
  const min = -(ZERO_CODE * scale);
  const codes = new Uint8Array(values.length);
  let maxErr = 0;
  for (let i = 0; i < values.length; i++) {
    const k = Math.max(-halfLevels, Math.min(halfLevels, Math.round(values[i] / scale)));
    codes[i] = ZERO_CODE + k;
    maxErr = Math.max(maxErr, Math.abs(Math.fround(codes[i] * scale + min) - values[i]));
  }
  return { bytes: codes, scale, min, maxErr };
}

/**
 * Quantizes every float32 entry (unless `skip`) of a weights manifest + its concatenated data. Entries that are not
 * float32 (int32, bool, string) or already quantized are copied unchanged.
 */
export function quantizeWeights(
  specs: readonly tf.io.WeightsManifestEntry[],
  data: ArrayBuffer | ArrayBuffer[],
  dtype: QuantizationDtype,
  opts: QuantizeOptions = {},
): QuantizeResult {
  if (!(dtype in QUANTIZED_BYTES)) throw new AppError('INVALID_JOB_PARAMS', `unsupported quantization dtype ${String(dtype)}`, { field: 'dtype' });
  const buf = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
  const parts: Uint8Array[] = [];
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  const maxAbsError: Record<string, number> = {};
  let offset = 0;
  for (const spec of specs) {
    const len = entryBytes(spec, buf, offset);
    if (offset + len > buf.byteLength) {
      throw new AppError('WEIGHTS_MISMATCH', `weight data ends before entry ${spec.name}`, { weight: spec.name, bytes: buf.byteLength });
    }
    if (spec.dtype !== 'float32' || spec.quantization || opts.skip?.(spec)) {
      parts.push(new Uint8Array(buf, offset, len));
      outSpecs.push({ ...spec });
    } else {
      // slice() copies, so the Float32Array is aligned whatever the offset.
      const values = new Float32Array(buf.slice(offset, offset + len));
      if (dtype === 'float16') {
        const { bytes, maxErr } = quantizeFloat16(spec.name, values);
        parts.push(bytes);
        outSpecs.push({ ...spec, quantization: { dtype } });
        maxAbsError[spec.name] = maxErr;
      } else {
        const { bytes, scale, min, maxErr } =
          dtype === 'uint8' && opts.halfLevels !== undefined
            ? quantizeSymmetric(spec.name, values, opts.halfLevels)
            : quantizeAffine(spec.name, values, dtype === 'uint8' ? 8 : 16);
        parts.push(bytes);
        outSpecs.push({ ...spec, quantization: { dtype, scale, min } });
        maxAbsError[spec.name] = maxErr;
      }
    }
    offset += len;
  }
  if (offset !== buf.byteLength) {
    throw new AppError('WEIGHTS_MISMATCH', `weight data has ${buf.byteLength - offset} bytes the manifest does not describe`, {
      bytes: buf.byteLength,
    });
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { specs: outSpecs, data: out.buffer, maxAbsError };
}
