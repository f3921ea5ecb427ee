// Which OpenBLAS kernels a CPU should get when OpenBLAS's own detection falls short. A DYNAMIC_ARCH build picks its
// kernels by CPU model when it loads, and a build older than the CPU falls back to generic ones: Debian 12's 0.3.21 on
// a 16-core Xeon of family 6 model 207 said "Prescott" (SSE3), and LeNet-300-100 trained at 22k samples/s instead of
// 62k with OPENBLAS_CORETYPE=SkylakeX (bench/results/2026-12-01-16core-thread-scaling.txt). The override is read only
// when the library loads, so src/ml/kernels/native-blas.ts loads a copy with it set.
import fs from 'node:fs';

/** Kernel sets OpenBLAS falls back to on CPUs it does not know (it also names real, old CPUs this way). */
const GENERIC = /\b(Prescott|Core2|Katmai|Coppermine|Northwood|Banias|Dunnington|Atom)\b/;
const AVX512 = ['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'];

/** The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere). */
export function cpuFlags(): Set<string> {
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    return new Set(line?.split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

/**
 * The OPENBLAS_CORETYPE that fits a CPU with `flags` when OpenBLAS reported `config` (openblas_get_config()), or null
 * when its own choice stands: it named a specific kernel set, or the CPU has nothing better than what it chose.
 */
export function betterCoretype(config: string, flags: Set<string>): string | null {
  if (!GENERIC.test(config)) return null;
  if (AVX512.every((f) => flags.has(f))) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  return null;
}
