// Generic fallback for any kernel a backend lacks but the cpu backend has: copy the inputs to a cpu backend
// instance, run the cpu kernel there, copy the outputs back. Slow (two copies, single-threaded JS), but it means
// no job ever fails with "Kernel … not registered": kernels that matter for speed get their own implementation.
import { tf } from '../tf.ts';

type AnyBackend = {
  readSync(dataId: object): tf.backend_util.BackendValues;
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
};

// Kernels on string or complex data: the backends we fall back from cannot hold their inputs anyway.
const NOT_NUMERIC = new Set(['Complex', 'ComplexAbs', 'FFT', 'IFFT', 'Imag', 'Real', 'StaticRegexReplace', 'StringSplit', 'StringToHashBucketFast']);

function cpuBackend(): AnyBackend {
  const cpu = tf.engine().findBackend('cpu') as unknown as AnyBackend | null;
  if (!cpu) throw new Error('the cpu backend is not registered (needed for kernel fallbacks)');
  return cpu;
}

export function cpuFallbackConfig(kernelName: string, backendName: string): tf.KernelConfig {
  const kernelFunc = ({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
    // Looked up per call: registerKernelFixes may replace a cpu kernel after this config was made.
    const cpuKernel = tf.getKernel(kernelName, 'cpu');
    if (!cpuKernel) throw new Error(`no cpu kernel ${kernelName} to fall back to`);
    const target = backend as AnyBackend;
    const cpu = cpuBackend();
    const copy = (info: tf.TensorInfo) => ({
      dataId: cpu.write(target.readSync(info.dataId), info.shape, info.dtype),
      shape: info.shape,
      dtype: info.dtype,
    });
    // Some kernels (Einsum, Concat, AddN) take their inputs as an array: keep that shape.
    const cpuInputs = (
      Array.isArray(inputs)
        ? (inputs as tf.TensorInfo[]).map(copy)
        : Object.fromEntries(Object.entries(inputs).map(([name, info]) => [name, info && copy(info)]))
    ) as tf.NamedTensorInfoMap;
    try {
      const result = cpuKernel.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs });
      const outs = Array.isArray(result) ? result : [result];
      const copied = outs.map((o) => {
        const values = cpu.readSync(o.dataId);
        cpu.disposeData(o.dataId, true);
        return { dataId: target.write(values, o.shape, o.dtype), shape: o.shape, dtype: o.dtype };
      });
      return Array.isArray(result) ? copied : copied[0];
    } finally {
      for (const info of Object.values(cpuInputs)) if (info) cpu.disposeData(info.dataId, true);
    }
  };
  return { kernelName, backendName, kernelFunc };
}

/** Fallback configs for every numeric kernel the cpu backend has and `backendName` has not (after `own`). */
export function missingKernelFallbacks(backendName: string, own: readonly tf.KernelConfig[]): tf.KernelConfig[] {
  const have = new Set([...tf.getKernelsForBackend(backendName).map((k) => k.kernelName), ...own.map((k) => k.kernelName)]);
  return tf
    .getKernelsForBackend('cpu')
    .map((k) => k.kernelName)
    .filter((name) => !have.has(name) && !NOT_NUMERIC.has(name))
    .map((name) => cpuFallbackConfig(name, backendName));
}
