// Picks the TensorFlow.js backend once per process. 'auto' prefers native TensorFlow (tfjs-node-gpu / tfjs-node,
// optional and usually not installable), then WebGPU through Dawn (the `webgpu` package) when it finds an adapter,
// then wasm (SIMD, one thread, with our extra kernels), then the plain JS cpu backend.
import { createRequire } from 'node:module';
import path from 'node:path';
import { tf } from './tf.ts';
import { registerFallbackKernels, registerKernelFixes, registerWasmKernels } from './kernels/index.ts';

export type BackendPreference = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

const require = createRequire(import.meta.url);
// Specifiers in variables so TypeScript does not demand the optional packages' types.
const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
const WEBGPU_PACKAGE = 'webgpu';
const WEBGPU_BACKEND_PACKAGE = '@tensorflow/tfjs-backend-webgpu';

async function tryTensorflow(): Promise<boolean> {
  for (const pkg of TFJS_NODE_PACKAGES) {
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) return true;
    } catch (err) {
      failed('tensorflow', err); // not installed or libtensorflow missing: try the next one
    }
  }
  return false;
}

/** Set when auto found only a software WebGPU adapter: webgpu stays available to an explicit preference. */
let softwareAdapterOnly = false;

/** `explicit`: webgpu was asked for by name (a software adapter — lavapipe, SwiftShader — is then accepted). */
async function tryWebgpu(explicit: boolean): Promise<boolean> {
  try {
    // Registered already when navigator.gpu was set up before tfjs-backend-webgpu loaded (e.g. a GPU bundle).
    const registered = () => 'webgpu' in (tf.engine() as unknown as { registryFactory: object }).registryFactory;
    if (!registered()) {
      const { create, globals } = (await import(WEBGPU_PACKAGE)) as {
        create: (flags: string[]) => { requestAdapter(): Promise<unknown> };
        globals: object;
      };
      const gpu = create([]);
      const adapter = (await gpu.requestAdapter()) as { info?: { architecture?: string }; isFallbackAdapter?: boolean } | null;
      if (!adapter) return failed('webgpu', 'no WebGPU adapter found');
      // A Vulkan driver on the CPU would make 'auto' train on WebGPU far slower than wasm.
      if (!explicit && (adapter.info?.architecture === 'software' || adapter.isFallbackAdapter)) {
        softwareAdapterOnly = true;
        return failed('webgpu', 'only a software (CPU) WebGPU adapter');
      }
      Object.assign(globalThis, globals);
      // tfjs-backend-webgpu registers itself at import time only if navigator.gpu already exists.
      const g = globalThis as { navigator?: object };
      if (g.navigator === undefined) g.navigator = {};
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      await import(WEBGPU_BACKEND_PACKAGE);
    }
    if (!registered()) return failed('webgpu', 'tfjs-backend-webgpu did not register (navigator.gpu missing at import)');
    registerFallbackKernels('webgpu');
    return (await tf.setBackend('webgpu')) || failed('webgpu', 'tf.setBackend("webgpu") returned false');
  } catch (err) {
    return failed('webgpu', err);
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    registerWasmKernels();
    if (!tf.findBackend('wasm')) {
      // Point the loader at the .wasm binaries shipped in the package (a file path: no fetch in Node).
      const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
      wasm.setWasmPaths(dist + path.sep);
    }
    return (await tf.setBackend('wasm')) || failed('wasm', 'tf.setBackend("wasm") returned false');
  } catch (err) {
    return failed('wasm', err);
  }
}

/** Why each backend that was tried could not start (for logs and the worker's start-up line). */
export const backendFailures = new Map<string, string>();
const failed = (name: string, err: unknown) => {
  backendFailures.set(name, err instanceof Error ? err.message : String(err));
  return false;
};

const attempts: Record<Exclude<BackendPreference, 'auto'>, (explicit: boolean) => Promise<boolean>> = {
  tensorflow: tryTensorflow,
  webgpu: tryWebgpu,
  wasm: tryWasm,
  cpu: () => tf.setBackend('cpu'),
};
const AUTO_ORDER = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
const pending = new Map<BackendPreference, Promise<string>>();
// A backend that failed once (package missing, no GPU adapter) is not probed again.
const unavailable = new Set<string>();

/**
 * Activates a backend and resolves to the name actually active. An explicit preference that cannot start falls
 * back along the auto order after it. Idempotent: repeated calls with the same preference reuse the first result.
 */
export function initBackend(pref: BackendPreference = 'auto'): Promise<string> {
  registerKernelFixes();
  let p = pending.get(pref);
  if (!p) {
    p = (async () => {
      const order = pref === 'auto' ? AUTO_ORDER : [pref, ...AUTO_ORDER.slice(AUTO_ORDER.indexOf(pref) + 1)];
      for (const name of order) {
        if (unavailable.has(name)) continue;
        if (!(await attempts[name](name === pref))) {
          if (!(name === 'webgpu' && softwareAdapterOnly)) unavailable.add(name);
          if (name === pref) console.warn(`modelpress: backend ${name} unavailable (${backendFailures.get(name) ?? 'unknown reason'}); falling back`);
        } else {
          await tf.ready();
          return tf.getBackend();
        }
      }
      throw new Error('no TensorFlow.js backend could be initialised');
    })();
    pending.set(pref, p);
  }
  return p.then(async (name) => {
    // Another preference may have switched the global backend since: switch back.
    if (tf.getBackend() !== name) await tf.setBackend(name);
    return name;
  });
}
