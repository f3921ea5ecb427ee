import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { tf } from '../../src/ml/tf.ts';
import {
  affineParams,
  float16BitsToNumber,
  float32ToFloat16Bits,
  quantizeSymmetric,
  quantizeWeights,
  ZERO_CODE,
} from '../../src/ml/compress/quantize/affine.ts';

await tf.setBackend('cpu');

/** Deterministic pseudo-random floats in [-1, 1) with the given share of exact zeros. */
function sparseValues(n: number, zeroShare: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const rnd = () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rnd() < zeroShare ? 0 : rnd() * 2 - 1;
  return out;
}

function decode(specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): Record<string, Float32Array | Int32Array> {
  const tensors = tf.io.decodeWeights(data, specs); // the stock tfjs decoder
  const out = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.dataSync() as Float32Array | Int32Array]));
  tf.dispose(Object.values(tensors));
  return out;
}

test('float16 bits: encoder rounds to nearest even, decoder matches tfjs for all 65536 patterns', () => {
  assert.equal(float32ToFloat16Bits(1), 0x3c00);
  assert.equal(float32ToFloat16Bits(-2), 0xc000);
  assert.equal(float32ToFloat16Bits(65504), 0x7bff);
  assert.equal(float32ToFloat16Bits(70000), 0x7c00);
  assert.equal(float32ToFloat16Bits(2 ** -24), 0x0001);
  assert.equal(float32ToFloat16Bits(2 ** -26), 0x0000);
  assert.equal(float32ToFloat16Bits(0), 0);
  assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.equal(float32ToFloat16Bits(1 + 1.5 * 2 ** -11), 0x3c01);

  const all = new Uint16Array(65536).map((_, i) => i);
  const viaTfjs = decode([{ name: 'h', shape: [65536], dtype: 'float32', quantization: { dtype: 'float16' } }], all.buffer).h;
  for (let h = 0; h < 65536; h++) {
    const mine = float16BitsToNumber(h);
    if (Number.isNaN(mine)) continue;
    assert.ok(Object.is(mine, viaTfjs[h]), `pattern ${h}: ${mine} vs ${viaTfjs[h]}`);
    assert.equal(float32ToFloat16Bits(mine), h, `round trip of pattern ${h}`);
  }
});

test('affineParams puts 0 on the grid only when the range spans it', () => {
  const p = affineParams(-0.3, 0.9, 8);
  assert.equal(p.zeroPoint! * p.scale + p.min, 0);
  assert.equal(p.zeroPoint, Math.round(0.3 / (1.2 / 255)));
  assert.deepEqual(affineParams(0.5, 1.5, 8), { scale: 1 / 255, min: 0.5, zeroPoint: null });
  assert.deepEqual(affineParams(0, 0, 16), { scale: 1, min: 0, zeroPoint: 0 });
});

for (const dtype of ['uint8', 'uint16'] as const) {
  test(`${dtype}: stock decode error <= scale/2 per element, zeros stay exactly zero`, () => {
    const a = sparseValues(5000, 0.9, 3);
    const b = new Float32Array(3000).map((_, i) => 0.25 + (i % 97) / 50); // all positive: no zero point needed
    const specs: tf.io.WeightsManifestEntry[] = [
      { name: 'a', shape: [50, 100], dtype: 'float32' },
      { name: 'b', shape: [3000], dtype: 'float32' },
    ];
    const data = new Uint8Array(32000);
    data.set(new Uint8Array(a.buffer), 0);
    data.set(new Uint8Array(b.buffer), 20000);
    const q = quantizeWeights(specs, data.buffer, dtype);
    assert.equal(q.data.byteLength, 8000 * (dtype === 'uint8' ? 1 : 2));
    const decoded = decode(q.specs, q.data);
    for (const [name, original] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const { scale, min } = q.specs.find((s) => s.name === name)!.quantization!;
      let maxErr = 0;
      for (let i = 0; i < original.length; i++) {
        const err = Math.abs(decoded[name][i] - original[i]);
        maxErr = Math.max(maxErr, err);
        // scale/2 from rounding, plus float32 rounding of the dequantized value
        assert.ok(err <= scale! / 2 + 6e-8 * Math.abs(original[i]), `${name}[${i}] err ${err} > ${scale! / 2}`);
        if (original[i] === 0) assert.ok(Object.is(decoded[name][i], 0), `${name}[${i}] not exactly 0`);
      }
      assert.equal(q.maxAbsError[name], maxErr);
      assert.ok(min !== undefined);
    }
  });
}

test('float16: relative error <= 2^-11, zeros exact; int32 entries and skipped entries are copied unchanged', () => {
  const w = sparseValues(1000, 0.5, 9).map((v) => v * 10);
  const ints = new Int32Array([1, -7, 123456789, 0]);
  const keep = new Float32Array([0.123456789, -3.14159]);
  const specs: tf.io.WeightsManifestEntry[] = [
    { name: 'w', shape: [1000], dtype: 'float32' },
    { name: 'step', shape: [4], dtype: 'int32' },
    { name: 'keep', shape: [2], dtype: 'float32' },
  ];
  const q = quantizeWeights(specs, [w.buffer, ints.buffer, keep.buffer], 'float16', { skip: (s) => s.name === 'keep' });
  assert.deepEqual(
    q.specs.map((s) => s.quantization?.dtype ?? null),
    ['float16', null, null],
  );
  assert.deepEqual(Object.keys(q.maxAbsError), ['w']);
  const d = decode(q.specs, q.data);
  for (let i = 0; i < w.length; i++) {
    assert.ok(Math.abs(d.w[i] - w[i]) <= Math.abs(w[i]) * 2 ** -11);
    if (w[i] === 0) assert.ok(Object.is(d.w[i], 0));
  }
  assert.deepEqual(Array.from(d.step), Array.from(ints));
  assert.deepEqual(Array.from(d.keep), Array.from(keep));
  assert.throws(() => quantizeWeights(specs, w.buffer, 'uint8'), /ends before/);
});

/** An IOHandler that keeps artifacts in memory and can stand in for the storage layer. */
class MemoryHandler implements tf.io.IOHandler {
  artifacts?: tf.io.ModelArtifacts;
  async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    this.artifacts = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }
  async load(): Promise<tf.io.ModelArtifacts> {
    return this.artifacts!;
  }
}

for (const dtype of ['uint8', 'uint16', 'float16'] as const) {
  test(`${dtype}-quantized model loads with stock tf.loadLayersModel and predicts like the dequantized weights`, async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu' }),
        tf.layers.batchNormalization(),
        tf.layers.flatten(),
        tf.layers.dense({ units: 16, activation: 'relu', biasInitializer: 'randomNormal' }),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    const handler = new MemoryHandler();
    await model.save(handler);
    const saved = handler.artifacts!;
    const q = quantizeWeights(saved.weightSpecs!, saved.weightData!, dtype);
    handler.artifacts = { ...saved, weightSpecs: q.specs, weightData: q.data };
    const loaded = await tf.loadLayersModel(handler);

    // Each loaded weight equals the stock decoding of our manifest and is within maxAbsError of the original.
    const decoded = tf.io.decodeWeights(q.data, q.specs);
    const originals = new Map(model.weights.map((w) => [w.originalName, w.read().dataSync()]));
    for (const w of loaded.weights) {
      const got = w.read().dataSync();
      assert.deepEqual(got, decoded[w.originalName].dataSync());
      const orig = originals.get(w.originalName)!;
      let err = 0;
      for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - orig[i]));
      assert.equal(err, q.maxAbsError[w.originalName]);
    }
    tf.dispose(Object.values(decoded));

    const x = tf.randomNormal([8, 8, 8, 1], 0, 1, 'float32', 5);
    const [y0, y1] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    const diff = tf.tidy(() => y0.sub(y1).abs().max().dataSync()[0]);
    const worst = Math.max(...Object.values(q.maxAbsError));
    console.log(
      `${dtype}: weights ${tf.io.CompositeArrayBuffer.join(saved.weightData).byteLength} → ${q.data.byteLength} bytes, max weight error ${worst.toExponential(2)}, max output diff ${diff.toExponential(2)}`,
    );
    assert.ok(diff > 0 || worst === 0);
    assert.ok(diff < (dtype === 'uint8' ? 0.05 : 1e-3), `output diff ${diff}`);
    tf.dispose([x, y0, y1]);
    model.dispose();
    loaded.dispose();
  });
}

test('gzip of a 90%-sparse uint8-quantized tensor is far smaller than the dense float32 bytes', () => {
  const w = sparseValues(200_000, 0.9, 11);
  const q = quantizeWeights([{ name: 'w', shape: [w.length], dtype: 'float32' }], w.buffer as ArrayBuffer, 'uint8');
  const dense = w.byteLength;
  const gzFloat = gzipSync(new Uint8Array(w.buffer), { level: 9 }).length;
  const gzQuant = gzipSync(new Uint8Array(q.data), { level: 9 }).length;
  console.log(
    `90% sparse, 200k weights: fp32 ${dense} B, fp32+gzip ${gzFloat} B (${(dense / gzFloat).toFixed(1)}x), uint8+gzip ${gzQuant} B (${(dense / gzQuant).toFixed(1)}x)`,
  );
  assert.ok(gzQuant < dense / 12);
  assert.ok(gzQuant < gzFloat / 2);
});

test('uint8/uint16 manifest entries get a step of few digits (≤ 1e-5 above the exact one) and a min that prints as briefly, zero exact', () => {
  for (let i = 0; i < 200; i++) {
    const lo = -0.5 * Math.abs(Math.sin(i + 1));
    const hi = 0.7 * Math.abs(Math.cos(3 * i + 2));
    for (const bits of [8, 16] as const) {
      const exact = (hi - lo) / (2 ** bits - 1);
      const p = affineParams(lo, hi, bits, { short: true });
      assert.ok(p.scale >= exact * (1 - 1e-7) && p.scale <= exact * (1 + 1e-5), `${p.scale} vs ${exact}`);
      assert.ok(String(p.scale).length <= 14 && String(p.min).length <= 17, `${p.scale} ${p.min}`);
      assert.equal(p.zeroPoint! * p.scale + p.min, 0);
      assert.ok(lo >= p.min - p.scale / 2 && hi <= p.min + (2 ** bits - 1) * p.scale + p.scale / 2, 'covers the range');
    }
  }
});

test('uint8 on a symmetric grid (halfLevels): codes ZERO_CODE ± h in every tensor, zeros exact, error <= scale/2, short scale/min, stock decode', () => {
  for (const h of [7, 15, 31, 63, 127]) {
    for (let i = 0; i < 50; i++) {
      const v = sparseValues(500, 0.8, 100 * h + i).map((x) => x * (0.01 + Math.abs(Math.sin(i))));
      if (i % 5 === 0) v.forEach((x, j) => (v[j] = Math.abs(x))); // one-sided ranges too
      const { bytes, scale, min, maxErr } = quantizeSymmetric('w', v, h);
      const maxAbs = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      assert.ok(scale >= maxAbs / h && scale <= (maxAbs / h) * 1.02, `scale ${scale} for max ${maxAbs}/${h}`);
      assert.ok(String(scale).length <= 10 && String(min).length <= 13, `${scale} ${min}`);
      assert.equal(ZERO_CODE * scale + min, 0);
      assert.ok(maxErr <= scale / 2 + 1e-7, `${maxErr} vs ${scale}`);
      const decoded = decode([{ name: 'w', shape: [v.length], dtype: 'float32', quantization: { dtype: 'uint8', scale, min } }], bytes.buffer).w;
      for (let j = 0; j < v.length; j++) {
        assert.ok(bytes[j] >= ZERO_CODE - h && bytes[j] <= ZERO_CODE + h);
        if (v[j] === 0) assert.ok(Object.is(decoded[j], 0) && bytes[j] === ZERO_CODE);
        assert.ok(Math.abs(decoded[j] - v[j]) <= maxErr + 1e-9);
      }
    }
  }
  // Through quantizeWeights: every uint8 entry on the grid, all-zero tensors fine.
  const w = sparseValues(1000, 0.9, 3);
  const specs: tf.io.WeightsManifestEntry[] = [
    { name: 'a', shape: [1000], dtype: 'float32' },
    { name: 'z', shape: [4], dtype: 'float32' },
  ];
  const q = quantizeWeights(specs, new Float32Array([...w, 0, 0, 0, 0]).buffer, 'uint8', { halfLevels: 31 });
  const codes = new Uint8Array(q.data);
  assert.ok(codes.every((c) => c >= ZERO_CODE - 31 && c <= ZERO_CODE + 31));
  assert.deepEqual([...codes.subarray(1000)], [ZERO_CODE, ZERO_CODE, ZERO_CODE, ZERO_CODE]);
  assert.equal(
    decode(q.specs, q.data).z.every((x) => x === 0),
    true,
  );
  assert.throws(() => quantizeSymmetric('w', w, 0));
});
