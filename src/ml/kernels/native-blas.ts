// The optional native path of the wasm backend (issue 15, docs/adr/0002-native-blas.md): src/native/blas.c, a tiny
// N-API addon that dlopen()s the system's OpenBLAS (Debian: `apt-get install libopenblas0-pthread`) and runs
// cblas_sgemm, im2col convolutions and the max-pool gradient directly on the wasm heap (native-mat-mul.ts,
// native-conv.ts, native-max-pool-grad.ts). wasm SIMD (128-bit, no FMA) tops out near 20 GFLOP/s; OpenBLAS on one
// core of this machine reaches ~90, and GEMMs were 60% of a LeNet-300-100 training step.
//
// Built lazily, on first use, into a cache directory rather than in an npm postinstall hook: `npm ci` never runs a
// compiler (it must exit 0 on machines without one, and Docker's deps stage runs --ignore-scripts anyway), git
// worktrees sharing one node_modules and a later `apt-get install libopenblas0-pthread` just work, and the file name
// carries a hash of the source and flags, so an edited blas.c is rebuilt and never mixed up with an older build.
// A build takes 0.5-3 s of gcc once per machine (.ci/run and the Docker image build it ahead: src/native/build.ts); it goes to a temporary name and is renamed into place, so processes
// or threads building at the same time never load a half-written file. Anything missing (compiler, Node's headers,
// OpenBLAS) or MODELPRESS_NATIVE_BLAS=0 leaves today's wasm kernels in place; the process logs once which path is
// active.
//
// OpenBLAS runs single-threaded per calling thread (MODELPRESS_BLAS_THREADS, default 1): the data-parallel training
// replicas (src/ml/parallel/) are the threads, and each calls OpenBLAS from its own thread.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { betterCoretype, cpuFlags } from './openblas-coretype.ts';

/** The addon's activation codes for fused kernels (enum Act in src/native/blas.c); prelu is not among them. */
export const NATIVE_ACTIVATIONS: ReadonlyMap<string, number> = new Map([
  ['linear', 0],
  ['relu', 1],
  ['relu6', 2],
  ['leakyrelu', 3],
  ['sigmoid', 4],
  ['elu', 5],
]);

/** Whether a fused kernel's bias is one the addon adds: none, a scalar, or one value per output channel (n). */
export function nativeBiasFits(bias: { shape: readonly number[] } | undefined, n: number): boolean {
  if (!bias) return true;
  const size = bias.shape.reduce((a, b) => a * b, 1);
  return size === 1 || (size === n && bias.shape[bias.shape.length - 1] === n);
}

/** The addon's functions (see the header of src/native/blas.c). */
export interface NativeBlasAddon {
  /** dlopen; a BLAS already open in the process stays unless `replace` (see blas.c). */
  open(library: string, threads: number, replace?: boolean): string;
  /** The open library's file ("" if none). */
  libraryFile(): string;
  gemm(
    heap: ArrayBuffer,
    batch: number,
    transA: number,
    transB: number,
    m: number,
    n: number,
    k: number,
    aOffset: number,
    aStride: number,
    bOffset: number,
    bStride: number,
    cOffset: number,
    cStride: number,
    biasOffset: number,
    biasLength: number,
    activation: number,
    activationAlpha: number,
  ): void;
  /** 2-D convolution, its filter gradient (mode 1) or input gradient (mode 2); params: enum P in blas.c. */
  conv(heap: ArrayBuffer, mode: number, params: Float64Array): void;
  /** dx of max pooling (params: enum Q in blas.c). */
  maxPoolGrad(heap: ArrayBuffer, params: Float64Array): void;
  config(): string;
  threads(): number;
  /** The calling thread's CPU time in ms (CLOCK_THREAD_CPUTIME_ID; the parallel phase profile). */
  threadCpuMs(): number;
}

export interface NativeBlas {
  addon: NativeBlasAddon;
  /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64". */
  config: string;
  /** OpenBLAS threads per call. */
  threads: number;
  /** The addon file loaded. */
  file: string;
}

export interface NativeBlasStatus {
  active: boolean;
  /** What is active ("OpenBLAS 0.3.21 …, 1 thread(s) per call (libopenblas.so.0)") or why it is off. */
  detail: string;
}

const SOURCE = fileURLToPath(new URL('../../native/blas.c', import.meta.url));
const ROOT = path.resolve(path.dirname(SOURCE), '..', '..');
const CFLAGS = ['-O3', '-fPIC', '-shared', '-std=c11', '-D_GNU_SOURCE'];
const LIBS = ['-ldl', '-lm', '-lpthread'];
const LIBRARIES = ['libopenblas.so.0', 'libopenblas.so'];

type Env = Record<string, string | undefined>;

/** Whether the environment turns the native path off: MODELPRESS_NATIVE_BLAS=0 / false / off / no. */
export function nativeBlasDisabled(env: Env = process.env): boolean {
  return /^(0|false|off|no)$/i.test((env.MODELPRESS_NATIVE_BLAS ?? '').trim());
}

/** Directories that may hold Node's C headers (node_api.h) for this node binary. */
function headerDirs(env: Env): string[] {
  const prefix = (process.config.variables as { node_prefix?: string }).node_prefix;
  const dirs = [
    env.MODELPRESS_NODE_HEADERS,
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
    prefix ? path.join(prefix, 'include', 'node') : undefined,
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return [...new Set(dirs.filter((d): d is string => !!d))].filter((d) => fs.existsSync(path.join(d, 'node_api.h')));
}

/**
 * Where the built addon may live: MODELPRESS_NATIVE_DIR alone when set, else node_modules/.cache/modelpress and a
 * private temp dir.
 */
function cacheDirs(env: Env): string[] {
  if (env.MODELPRESS_NATIVE_DIR) return [env.MODELPRESS_NATIVE_DIR];
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const temp = path.join(os.tmpdir(), `modelpress-native-${uid}`);
  const dirs = [path.join(ROOT, 'node_modules', '.cache', 'modelpress')];
  // The shared temp dir only when it is ours and private: another user could otherwise plant the .node we load.
  try {
    fs.mkdirSync(temp, { recursive: true, mode: 0o700 });
    const st = fs.statSync(temp);
    if ((typeof process.getuid !== 'function' || st.uid === uid) && (st.mode & 0o022) === 0) dirs.push(temp);
  } catch {
    // no temp dir: the others only
  }
  return dirs;
}

function writableDir(dir: string): boolean {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The built addon's path: an existing build for this source, or a fresh one. Throws why it cannot. */
export function buildNativeBlasAddon(env: Env = process.env): string {
  const source = fs.readFileSync(SOURCE);
  const headers = headerDirs(env);
  const hash = createHash('sha256')
    .update(source)
    .update(JSON.stringify([CFLAGS, LIBS, process.platform, process.arch]))
    .digest('hex')
    .slice(0, 16);
  const name = `blas-${hash}.node`;
  const dirs = cacheDirs(env);
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  if (headers.length === 0) throw new Error("Node's C headers (node_api.h) not found; set MODELPRESS_NODE_HEADERS");
  const dir = dirs.find(writableDir);
  if (!dir) throw new Error(`no writable cache directory among ${dirs.join(', ')}`);
  const file = path.join(dir, name);
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const cc = env.CC || 'cc';
  try {
    execFileSync(cc, [...CFLAGS, `-I${headers[0]}`, SOURCE, '-o', tmp, ...LIBS], { stdio: 'pipe', timeout: 120_000 });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${cc} failed to build ${SOURCE}: ${stderr || (err as Error).message}`, { cause: err });
  }
  return file;
}

/**
 * Builds (if needed) and loads the addon and opens OpenBLAS; null with `status.detail` saying why when anything is
 * missing or the environment turns it off. `env` is read, never written.
 */
export function loadNativeBlas(env: Env = process.env): { blas: NativeBlas | null; status: NativeBlasStatus } {
  if (nativeBlasDisabled(env)) return { blas: null, status: { active: false, detail: 'off (MODELPRESS_NATIVE_BLAS=0)' } };
  if (process.platform === 'win32') return { blas: null, status: { active: false, detail: 'off (not built on Windows)' } };
  try {
    const file = buildNativeBlasAddon(env);
    const addon = createRequire(import.meta.url)(file) as NativeBlasAddon;
    const threads = Math.max(1, Math.floor(Number(env.MODELPRESS_BLAS_THREADS) || 1));
    const libraries = env.MODELPRESS_OPENBLAS_LIBRARY ? [env.MODELPRESS_OPENBLAS_LIBRARY] : LIBRARIES;
    const errors: string[] = [];
    for (const library of libraries) {
      try {
        const config = retuneCoretype(addon, addon.open(library, threads), threads, env);
        const blas = { addon, config, threads: addon.threads(), file };
        return { blas, status: { active: true, detail: `${config}, ${blas.threads} thread(s) per call (${library})` } };
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    throw new Error(`OpenBLAS not loadable (apt-get install libopenblas0-pthread): ${errors.join('; ')}`);
  } catch (err) {
    return { blas: null, status: { active: false, detail: `unavailable: ${(err as Error).message}` } };
  }
}

/**
 * Where OpenBLAS chose generic kernels for a CPU that has better ones (or MODELPRESS_OPENBLAS_CORETYPE names a set),
 * loads a private copy of the library with OPENBLAS_CORETYPE set — the variable is read only when a library loads,
 * and the loaded one stays mapped — and returns the new config. Main thread only: a worker's process.env is its own
 * copy, not the environment OpenBLAS reads; the worker threads then use the process's library. Any failure keeps
 * the first choice. A user's own OPENBLAS_CORETYPE is left alone.
 */
function retuneCoretype(addon: NativeBlasAddon, config: string, threads: number, env: Env): string {
  const want = env.MODELPRESS_OPENBLAS_CORETYPE || (env.OPENBLAS_CORETYPE ? null : betterCoretype(config, cpuFlags()));
  if (!want || !isMainThread || config.includes(want)) return config;
  try {
    const file = addon.libraryFile();
    const st = fs.statSync(file);
    const tag = createHash('sha256')
      .update(`${fs.realpathSync(file)}:${st.size}:${st.mtimeMs}`)
      .digest('hex')
      .slice(0, 12);
    const dir = cacheDirs(env).find(writableDir);
    if (!dir) return config;
    const copy = path.join(dir, `libopenblas-${want}-${tag}.so`);
    if (!fs.existsSync(copy)) {
      const tmp = `${copy}.${process.pid}.tmp`;
      fs.copyFileSync(file, tmp);
      fs.renameSync(tmp, copy);
    }
    const before = process.env.OPENBLAS_CORETYPE;
    process.env.OPENBLAS_CORETYPE = want;
    try {
      return addon.open(copy, threads, true);
    } finally {
      if (before === undefined) delete process.env.OPENBLAS_CORETYPE;
      else process.env.OPENBLAS_CORETYPE = before;
    }
  } catch {
    return config;
  }
}

let loaded: ReturnType<typeof loadNativeBlas> | null = null;

/** This thread's native BLAS (loaded once, logged once by the main thread), or null: the wasm kernels stay. */
export function nativeBlas(): NativeBlas | null {
  if (!loaded) {
    loaded = loadNativeBlas();
    if (isMainThread) {
      const { active, detail } = loaded.status;
      console.log(`modelpress: wasm backend GEMMs ${active ? `native via ${detail}` : `in wasm; native BLAS ${detail}`}`);
    }
  }
  return loaded.blas;
}

/** Which GEMM path this thread uses (loads it if nobody asked yet). */
export function nativeBlasStatus(): NativeBlasStatus {
  nativeBlas();
  return loaded!.status;
}
