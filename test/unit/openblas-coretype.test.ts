// OpenBLAS kernel choice (src/ml/kernels/openblas-coretype.ts, native-blas.ts): generic kernels on a CPU that has
// better ones are replaced, a specific choice stands, and the reload really changes the kernels a process runs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { betterCoretype } from '../../src/ml/kernels/openblas-coretype.ts';
import { loadNativeBlas } from '../../src/ml/kernels/native-blas.ts';

const cfg = (core: string) => `OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY ${core} MAX_THREADS=64`;
const avx512 = new Set(['sse3', 'avx', 'avx2', 'fma', 'avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl']);
const avx2 = new Set(['sse3', 'avx', 'avx2', 'fma']);

test('generic kernels on an AVX-512 / AVX2 CPU get SkylakeX / Haswell kernels', () => {
  assert.equal(betterCoretype(cfg('Prescott'), avx512), 'SkylakeX');
  assert.equal(betterCoretype(cfg('Prescott'), avx2), 'Haswell');
  assert.equal(betterCoretype(cfg('Core2'), avx2), 'Haswell');
});

test("OpenBLAS's specific choice, or a CPU without better kernels, stays", () => {
  assert.equal(betterCoretype(cfg('SkylakeX'), avx512), null);
  assert.equal(betterCoretype(cfg('Cooperlake'), avx512), null);
  assert.equal(betterCoretype(cfg('Haswell'), avx512), null);
  assert.equal(betterCoretype(cfg('Prescott'), new Set(['sse3'])), null);
});

test('MODELPRESS_OPENBLAS_CORETYPE reloads OpenBLAS with those kernels in a fresh process', (t) => {
  if (!loadNativeBlas().blas) return t.skip('no native BLAS here');
  const script = "import { loadNativeBlas } from './src/ml/kernels/native-blas.ts'; console.log(loadNativeBlas().blas?.config ?? 'none');";
  const run = (env: Record<string, string>) =>
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    }).trim();
  assert.match(run({ MODELPRESS_OPENBLAS_CORETYPE: 'Haswell' }), /\bHaswell\b/);
  assert.match(run({ MODELPRESS_OPENBLAS_CORETYPE: 'Prescott' }), /\bPrescott\b/);
});
