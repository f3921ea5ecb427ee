// The optional native GEMM (src/native/blas.c through src/ml/kernels/native-blas.ts): BatchMatMul and _FusedMatMul on
// the wasm backend against the cpu backend, the fallback when it is turned off or cannot be built or loaded, and the
// addon's own guard against operands outside the heap. Where this machine cannot build it (no C compiler, Node's
// headers or OpenBLAS) the kernel tests still run, against the wasm kernels the fallback keeps.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tf } from '../../src/ml/tf.ts';
import { initBackend } from '../../src/ml/backend.ts';
import { loadNativeBlas, nativeBlas, nativeBlasStatus } from '../../src/ml/kernels/native-blas.ts';
import { nativeConvCalls } from '../../src/ml/kernels/native-conv.ts';
import { nativeGemmCalls } from '../../src/ml/kernels/native-mat-mul.ts';
import { nativeMaxPoolGradCalls } from '../../src/ml/kernels/native-max-pool-grad.ts';
import { randomValues, relError } from '../helpers/kernel-check.ts';

/** Runs `f` on `backend`: its outputs' shapes and values; checks it left no tensor and no backend buffer behind. */
async function runOn(backend: string, f: () => tf.Tensor[]): Promise<{ shape: number[]; values: Float32Array }[]> {
  await tf.setBackend(backend);
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.engine().backend.numDataIds();
  const outs = tf.tidy(f);
  const results = await Promise.all(outs.map(async (t) => ({ shape: t.shape, values: (await t.data()) as Float32Array })));
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, tensorsBefore, `${backend}: tensor leak`);
  assert.equal(tf.engine().backend.numDataIds(), buffersBefore, `${backend}: backend buffer leak`);
  return results;
}

/** wasm matches cpu within 1e-4 (relative to the largest value); with native BLAS on, wasm ran `minNative` GEMMs natively. */
async function compareBackends(label: string, f: () => tf.Tensor[], minNative = 1): Promise<void> {
  const expected = await runOn('cpu', f);
  const nativeCalls = () => nativeGemmCalls() + nativeConvCalls() + nativeMaxPoolGradCalls();
  const callsBefore = nativeCalls();
  const actual = await runOn('wasm', f);
  const calls = nativeCalls() - callsBefore;
  if (nativeBlasStatus().active) assert.ok(calls >= minNative, `${label}: ${calls} native calls, expected ≥ ${minNative}`);
  for (let i = 0; i < expected.length; i++) {
    assert.deepEqual(actual[i].shape, expected[i].shape, `${label} output ${i}: shape`);
    const err = relError(actual[i].values, expected[i].values);
    assert.ok(err <= 1e-4, `${label} output ${i}: relative error ${err}`);
  }
}

const tensor = (shape: number[], seed: number) =>
  tf.tensor(
    randomValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  // Say which path these tests exercise (the kernel tests pass on either).
  console.log(`# native BLAS: ${JSON.stringify(nativeBlasStatus())}`);
});

// [a shape, b shape, transposeA, transposeB]
const matMulCases: [number[], number[], boolean, boolean][] = [
  [[5, 7], [7, 3], false, false],
  [[7, 5], [7, 3], true, false],
  [[5, 7], [3, 7], false, true],
  [[7, 5], [3, 7], true, true],
  [[1, 1], [1, 1], false, false],
  [[13, 17], [17, 19], false, false],
  [[17, 13], [19, 17], true, true],
  [[2, 3, 4, 5], [2, 3, 5, 6], false, false], // batch dimensions
  [[2, 3, 5, 4], [2, 3, 6, 5], true, true],
  [[2, 4, 5], [5, 6], false, false], // b broadcast over a's batch
  [[5, 4], [3, 6, 5], true, true], // a broadcast over b's batch
  [[128, 784], [784, 300], false, false], // LeNet-300-100's layers, forward and backward
  [[128, 784], [128, 300], true, false],
  [[128, 300], [784, 300], false, true],
];

for (const [as, bs, ta, tb] of matMulCases) {
  test(`BatchMatMul ${as}${ta ? 'ᵀ' : ''} · ${bs}${tb ? 'ᵀ' : ''} matches cpu`, async () => {
    await compareBackends(`matMul ${as} ${bs}`, () => [tf.matMul(tensor(as, 1), tensor(bs, 2), ta, tb)]);
  });
}

test(
  'BatchMatMul with general batch broadcasting ([2,1] with [1,3]) equals the product of the tiled operands',
  { skip: !nativeBlasStatus().active && 'native BLAS unavailable here' },
  async () => {
    // tfjs's own kernels (cpu and stock wasm alike) flatten the batch dimensions and get this case wrong (72 values
    // for a [2,3,4,6] result): compare against the explicit tiling instead.
    const a = () => tensor([2, 1, 4, 5], 1);
    const b = () => tensor([1, 3, 5, 6], 2);
    const [expected] = await runOn('cpu', () => [tf.matMul(tf.tile(a(), [1, 3, 1, 1]), tf.tile(b(), [2, 1, 1, 1]))]);
    const [actual] = await runOn('wasm', () => [tf.matMul(a(), b())]);
    assert.deepEqual(actual.shape, [2, 3, 4, 6]);
    assert.ok(relError(actual.values, expected.values) <= 1e-4);
  },
);

test('BatchMatMul with zero-size operands: empty outputs, and zeros when the inner dimension is 0', async () => {
  await compareBackends('zero rows', () => [tf.matMul(tf.zeros([0, 5]), tensor([5, 3], 1))], 0);
  await compareBackends('zero inner', () => [tf.matMul(tf.zeros([4, 0]), tf.zeros([0, 3]))], 1);
  await compareBackends('zero batch', () => [tf.matMul(tf.zeros([0, 2, 3]), tf.zeros([0, 3, 4]))], 0);
  await compareBackends('zero inner, transposed', () => [tf.matMul(tf.zeros([0, 4]), tf.zeros([3, 0]), true, true)], 1);
});

const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const;
for (const activation of activations) {
  for (const [ta, tb] of [
    [false, false],
    [true, true],
  ] as const) {
    test(`_FusedMatMul ${activation}${ta ? ' transposed' : ''} with a bias matches cpu`, async () => {
      await compareBackends(`fused ${activation}`, () => {
        // Scaled so relu6's clip and the negative branches are all hit.
        const a = tf.mul(tensor(ta ? [9, 6] : [6, 9], 3), 4);
        const b = tensor(tb ? [11, 9] : [9, 11], 4);
        const bias = tensor([11], 5);
        return [tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation, leakyreluAlpha: 0.1 })];
      });
    });
  }
}

test('_FusedMatMul: a scalar-sized bias, batch dimensions, no bias, and prelu (the stock kernel) match cpu', async () => {
  await compareBackends('fused bias [1]', () => [
    tf.fused.matMul({ a: tensor([6, 9], 1), b: tensor([9, 4], 2), bias: tf.tensor([0.5], [1]), activation: 'relu' }),
  ]);
  await compareBackends('fused batch', () => [
    tf.fused.matMul({ a: tensor([3, 6, 9], 1), b: tensor([3, 9, 4], 2), bias: tensor([4], 3), activation: 'elu' }),
  ]);
  await compareBackends('fused no bias', () => [tf.fused.matMul({ a: tensor([6, 9], 1), b: tensor([9, 4], 2) })]);
  await compareBackends(
    'fused prelu',
    () => [
      tf.fused.matMul({
        a: tensor([6, 9], 1),
        b: tensor([9, 4], 2),
        bias: tensor([4], 3),
        activation: 'prelu',
        preluActivationWeights: tensor([4], 6),
      }),
    ],
    0,
  );
});

test('gradients of a dense layer (fused forward, transposed products backward) match cpu', async () => {
  await compareBackends(
    'dense grads',
    () => {
      const x = tensor([32, 50], 1);
      const w = tensor([50, 20], 2);
      const bias = tensor([20], 3);
      const f = (wv: tf.Tensor, bv: tf.Tensor) => tf.sum(tf.mul(tf.fused.matMul({ a: x, b: wv, bias: bv, activation: 'relu' }), tensor([32, 20], 4)));
      return tf.grads(f)([w, bias]);
    },
    2,
  );
});

type Shape4 = [number, number, number, number];
// Both im2col layouts (FW·Cin < 16: the transposed one), strides, dilation, explicit padding, a direct 1×1.
const convCases: { x: Shape4; f: Shape4; strides: [number, number]; pad: 'same' | 'valid' | number; dilations?: [number, number] }[] = [
  { x: [4, 28, 28, 1], f: [5, 5, 1, 6], strides: [1, 1], pad: 'same' }, // LeNet-5's first layer
  { x: [4, 14, 14, 6], f: [5, 5, 6, 16], strides: [1, 1], pad: 'valid' }, // and its second
  { x: [3, 11, 10, 2], f: [3, 3, 2, 5], strides: [2, 2], pad: 'same' },
  { x: [3, 11, 10, 7], f: [3, 3, 7, 5], strides: [2, 2], pad: 'valid' },
  { x: [2, 8, 9, 4], f: [2, 4, 4, 3], strides: [2, 3], pad: 'valid' },
  { x: [2, 9, 8, 5], f: [3, 4, 5, 3], strides: [3, 2], pad: 1 },
  { x: [2, 7, 7, 8], f: [1, 1, 8, 3], strides: [1, 1], pad: 'valid' }, // direct: x is its own im2col matrix
  { x: [1, 1, 1, 1], f: [1, 1, 1, 1], strides: [1, 1], pad: 'same' },
];

for (const c of convCases) {
  test(`conv2d x${c.x} f${c.f} s${c.strides} ${c.pad}: forward and both gradients match cpu`, async () => {
    await compareBackends(
      `conv ${c.x} ${c.f}`,
      () => {
        const x = tensor(c.x, 1) as tf.Tensor4D;
        const f = tensor(c.f, 2) as tf.Tensor4D;
        const loss = (a: tf.Tensor, b: tf.Tensor) => {
          const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
          return tf.sum(tf.mul(y, tensor(y.shape, 3)));
        };
        return [tf.conv2d(x, f, c.strides, c.pad), ...tf.grads(loss)([x, f])];
      },
      3,
    );
  });
}

test('conv2d with dilation (forward) and FusedConv2D with a bias and every native activation match cpu', async () => {
  await compareBackends('dilated', () => [
    tf.conv2d(tensor([2, 12, 11, 3], 1) as tf.Tensor4D, tensor([3, 3, 3, 4], 2) as tf.Tensor4D, 1, 'same', 'NHWC', [2, 2]),
  ]);
  await compareBackends('dilated, 16 channels (im2col rows)', () => [
    tf.conv2d(tensor([1, 9, 9, 16], 1) as tf.Tensor4D, tensor([3, 3, 16, 2], 2) as tf.Tensor4D, 1, 'same', 'NHWC', [2, 2]),
  ]);
  await compareBackends('dilated, wide', () => [
    tf.conv2d(tensor([2, 12, 11, 8], 1) as tf.Tensor4D, tensor([3, 2, 8, 4], 2) as tf.Tensor4D, 1, 'valid', 'NHWC', [2, 3]),
  ]);
  for (const activation of activations) {
    await compareBackends(`fused conv ${activation}`, () => [
      tf.fused.conv2d({
        x: tf.mul<tf.Tensor4D>(tensor([2, 9, 9, 3], 1), 4),
        filter: tensor([3, 3, 3, 5], 2) as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: tensor([5], 3),
        activation,
        leakyreluAlpha: 0.1,
      }),
    ]);
  }
  await compareBackends(
    'fused conv prelu (stock kernel)',
    () => [
      tf.fused.conv2d({
        x: tensor([2, 9, 9, 3], 1) as tf.Tensor4D,
        filter: tensor([3, 3, 3, 5], 2) as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: tensor([5], 3),
        activation: 'prelu',
        preluActivationWeights: tensor([5], 4),
      }),
    ],
    0,
  );
});

test('conv2d with an empty batch: empty outputs, a zero filter gradient', async () => {
  await compareBackends(
    'empty batch',
    () => {
      const x = tf.zeros<tf.Rank.R4>([0, 6, 6, 2]);
      const f = tensor([3, 3, 2, 4], 2) as tf.Tensor4D;
      const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'));
      return [tf.conv2d(x, f, 1, 'same'), ...tf.grads(loss)([x, f])];
    },
    0,
  );
});

test('maxPool gradients (ties, NaN, -Infinity, all-negative and padded windows) match cpu', async () => {
  const values = randomValues(2 * 9 * 10 * 3, 7).map((v, i) => (i % 11 === 0 ? 0.5 : i % 17 === 0 ? NaN : i % 19 === 0 ? -Infinity : v - 0.8));
  for (const [size, strides, pad] of [
    [2, 2, 'valid'],
    [3, 2, 'same'],
    [3, 1, 'valid'],
    [[2, 3], [1, 2], 'same'],
  ] as [number | [number, number], number | [number, number], 'same' | 'valid'][]) {
    await compareBackends(`maxPool ${size} ${strides} ${pad}`, () => {
      const x = tf.tensor4d(values, [2, 9, 10, 3]);
      const w = tensor(tf.maxPool(x, size, strides, pad).shape, 8);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, size, strides, pad), w)))(x)];
    });
  }
});

test('direct kernel calls whose shapes disagree with their geometry never reach the addon', () => {
  const backend = tf.engine().backend;
  const tensorsBefore = tf.memory().numTensors;
  tf.tidy(() => {
    const x = tensor([1, 6, 6, 2], 1);
    const dy = tensor([1, 6, 6, 4], 2);
    const attempt = (name: string, inputs: tf.NamedTensorInfoMap, attrs: object) => {
      try {
        const out = tf.getKernel(name, 'wasm').kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend }) as tf.TensorInfo;
        backend.disposeData(out.dataId);
      } catch {
        // the replaced kernel's own error is fine: the point is that the addon did not run on a wrong geometry
      }
    };
    const common = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: null, dilations: [1, 1] };
    const calls = () => [nativeConvCalls(0), nativeConvCalls(1), nativeConvCalls(2), nativeMaxPoolGradCalls()];
    let before = calls();
    attempt('Conv2D', { x, filter: tensor([3, 3, 3, 4], 4) }, common); // filter Cin 3, x has 2
    attempt('MaxPoolGrad', { dy: tensor([1, 2, 2, 2], 5), input: x, output: tensor([1, 3, 3, 2], 6) }, { filterSize: 2, strides: 2, pad: 'valid' });
    assert.deepEqual(calls(), before);
    // The replaced gradient kernels are wasm composites that may run a (consistent) native forward conv themselves.
    before = calls();
    attempt('Conv2DBackpropFilter', { x, dy }, { ...common, filterShape: [3, 3, 5, 4] }); // Cin 5
    attempt('Conv2DBackpropInput', { dy: tensor([1, 5, 5, 4], 3), filter: tensor([3, 3, 2, 4], 4) }, { ...common, inputShape: [1, 6, 6, 2] });
    assert.deepEqual(calls().slice(1), before.slice(1));
  });
  assert.equal(tf.memory().numTensors, tensorsBefore);
});

test('the addon refuses operands outside the heap', { skip: !nativeBlasStatus().active && 'native BLAS unavailable here' }, () => {
  const { addon } = nativeBlas()!;
  const heap = new ArrayBuffer(1024);
  // 16×16 floats = 1024 bytes fit; one row more does not.
  assert.doesNotThrow(() => addon.gemm(heap, 1, 0, 0, 16, 16, 16, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0));
  assert.throws(() => addon.gemm(heap, 1, 0, 0, 17, 16, 16, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0), /outside the heap/);
  assert.throws(() => addon.gemm(heap, 2, 0, 0, 16, 16, 16, 0, 256, 0, 0, 0, 0, -1, 0, 0, 0), /outside the heap/);
  assert.throws(() => addon.gemm(heap, 1, 0, 0, 4, 4, 4, 2, 0, 0, 0, 0, 0, -1, 0, 0, 0), /outside the heap/); // misaligned
  assert.throws(() => addon.gemm(heap, 1, 0, 0, 4, 4, 4, 0, 0, 0, 0, 0, 0, 1020, 4, 0, 0), /bad bias/);
  // conv: a 1×4×4×4 input, 3×3×4×4 filter and 1×4×4×4 output (256, 576 and 256 bytes) at byte offsets 0, 256, 832.
  const conv = (yOff: number) => new Float64Array([1, 4, 4, 4, 4, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0, 256, yOff, -1, 0, 0, 0]);
  assert.doesNotThrow(() => addon.conv(new ArrayBuffer(1088), 0, conv(832)));
  assert.throws(() => addon.conv(new ArrayBuffer(1084), 0, conv(832)), /outside the heap/);
  assert.throws(() => addon.conv(new ArrayBuffer(1088), 3, conv(832)), /bad mode/);
  // maxPoolGrad: a 1×4×4×2 input and dx (128 bytes each), 1×2×2×2 dy (32 bytes) at 0, 128, 160.
  const pool = new Float64Array([1, 4, 4, 2, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0, 0, 128, 160]);
  assert.doesNotThrow(() => addon.maxPoolGrad(new ArrayBuffer(288), pool));
  assert.throws(() => addon.maxPoolGrad(new ArrayBuffer(284), pool), /outside the heap/);
});

test('MODELPRESS_NATIVE_BLAS=0: the wasm kernels run, and the log says so', () => {
  const script = [
    "const { initBackend } = await import('./src/ml/backend.ts');",
    "const { nativeBlasStatus } = await import('./src/ml/kernels/native-blas.ts');",
    "const { nativeGemmCalls } = await import('./src/ml/kernels/native-mat-mul.ts');",
    "const { tf } = await import('./src/ml/tf.ts');",
    "await initBackend('wasm');",
    'const y = tf.matMul(tf.ones([3, 4]), tf.ones([4, 5]), false, false);',
    "const z = tf.fused.matMul({ a: tf.ones([3, 4]), b: tf.ones([5, 4]), transposeB: true, bias: tf.ones([5]), activation: 'relu' });",
    'console.log(JSON.stringify({ status: nativeBlasStatus(), calls: nativeGemmCalls(), y: Array.from(y.dataSync()).slice(0, 2), z: z.dataSync()[0] }));',
  ].join('\n');
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: path.resolve(import.meta.dirname, '..', '..'),
    env: { ...process.env, MODELPRESS_NATIVE_BLAS: '0' },
    encoding: 'utf8',
  });
  const lines = out.trim().split('\n');
  assert.ok(
    lines.some((l) => l.includes('GEMMs in wasm; native BLAS off')),
    out,
  );
  const result = JSON.parse(lines[lines.length - 1]) as { status: { active: boolean }; calls: number; y: number[]; z: number };
  assert.equal(result.status.active, false);
  assert.equal(result.calls, 0);
  assert.deepEqual(result.y, [4, 4]);
  assert.equal(result.z, 5);
});

test('no OpenBLAS, no compiler: the loader reports why and returns null instead of throwing', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelpress-native-test-'));
  // The loader itself is under test: this run's MODELPRESS_NATIVE_BLAS=0 (if set) would make it answer 'off' first.
  const env = { ...process.env };
  delete env.MODELPRESS_NATIVE_BLAS;
  try {
    const noCompiler = loadNativeBlas({ ...env, MODELPRESS_NATIVE_DIR: dir, CC: path.join(dir, 'no-such-cc') });
    assert.equal(noCompiler.blas, null);
    assert.match(noCompiler.status.detail, /unavailable: /);
    if (!nativeBlasStatus().active) return;
    // This machine builds it: a fresh build into an empty directory loads, and a missing library is reported.
    const built = loadNativeBlas({ ...env, MODELPRESS_NATIVE_DIR: dir });
    assert.equal(built.status.active, true, built.status.detail);
    assert.ok(built.blas!.file.startsWith(dir));
    assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0);
    const noLibrary = loadNativeBlas({ ...env, MODELPRESS_NATIVE_DIR: dir, MODELPRESS_OPENBLAS_LIBRARY: path.join(dir, 'libopenblas.so.0') });
    assert.equal(noLibrary.blas, null);
    assert.match(noLibrary.status.detail, /OpenBLAS not loadable/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
