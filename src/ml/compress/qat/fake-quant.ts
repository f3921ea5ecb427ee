// uint8 fake quantization of weights (quantize then dequantize in float32), per tensor or per output channel.
// Per tensor it is bit-for-bit what the TF.js manifest stores and tfjs decodes (quantizeAffine: q·scale + min, the
// zero point nudged so 0 stays exactly 0), so a model trained against it loses nothing more when exported.
// Per channel (last axis: a Dense kernel's units, a Conv kernel's filters) it is the ONNX QuantizeLinear /
// DequantizeLinear convention: float32 scale and integer zero point per channel, value = (q − zeroPoint)·scale,
// every range widened to include 0. The TF.js manifest has one scale/min per entry, so it cannot carry
// per-channel grids: such weights are stored as float32 values lying exactly on their grids, with the grids in
// the job report for an ONNX QDQ export.
import { quantizeAffine, affineParams } from '../quantize/affine.ts';

export type QuantGranularity = 'tensor' | 'channel';

export interface TensorGrid {
  granularity: 'tensor';
  scale: number;
  min: number;
}

export interface ChannelGrid {
  granularity: 'channel';
  /** The channel axis (always the last). */
  axis: number;
  /** float32 values, one per channel. */
  scale: number[];
  /** uint8 zero points, one per channel: value = (q − zeroPoint) · scale. */
  zeroPoint: number[];
}

export type QuantGrid = TensorGrid | ChannelGrid;

export interface FakeQuantResult {
  values: Float32Array;
  grid: QuantGrid;
}

const QMAX = 255;

/** Per-tensor uint8 fake quantization, identical to what tfjs decodes from a uint8 manifest entry. */
export function fakeQuantTensor(values: Float32Array, name = 'weight'): FakeQuantResult {
  const { bytes, scale, min } = quantizeAffine(name, values, 8);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = bytes[i] * scale + min;
  return { values: out, grid: { granularity: 'tensor', scale, min } };
}

/** Per-output-channel uint8 fake quantization (channels on the last axis of `shape`), ONNX QDQ convention. */
export function fakeQuantChannels(values: Float32Array, shape: readonly number[]): FakeQuantResult {
  const channels = shape.length === 0 ? 1 : shape[shape.length - 1];
  const lo = new Float64Array(channels);
  const hi = new Float64Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = i % channels;
    if (values[i] < lo[c]) lo[c] = values[i];
    if (values[i] > hi[c]) hi[c] = values[i];
  }
  const scale: number[] = [];
  const zeroPoint: number[] = [];
  for (let c = 0; c < channels; c++) {
    // lo ≤ 0 ≤ hi by construction, so affineParams gives an integer zero point.
    const p = affineParams(lo[c], hi[c], 8);
    scale.push(Math.fround(p.scale));
    zeroPoint.push(p.zeroPoint ?? 0);
  }
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = i % channels;
    const q = Math.min(QMAX, Math.max(0, Math.round(values[i] / scale[c]) + zeroPoint[c]));
    out[i] = (q - zeroPoint[c]) * scale[c];
  }
  return { values: out, grid: { granularity: 'channel', axis: Math.max(0, shape.length - 1), scale, zeroPoint } };
}

/** Fake quantization of one weight at the given granularity (biases and other 1-D weights: per tensor). */
export function fakeQuantize(values: Float32Array, shape: readonly number[], granularity: QuantGranularity, name?: string): FakeQuantResult {
  return granularity === 'channel' && shape.length >= 2 ? fakeQuantChannels(values, shape) : fakeQuantTensor(values, name);
}
