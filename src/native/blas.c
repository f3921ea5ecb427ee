// Optional native accelerator for the wasm backend (issue 15): single-precision GEMM through the system's OpenBLAS
// (Debian: libopenblas0-pthread), called directly on the wasm backend's heap. wasm SIMD (128-bit, no FMA) reaches
// ~20 GFLOP/s on a 1024² matmul; OpenBLAS one thread ~88 here, and most of a dense training step is GEMM.
// Plain N-API C (no node-addon-api, no node-gyp): built on first use by src/ml/kernels/native-blas.ts with the
// system's C compiler and Node's headers; OpenBLAS is dlopen'ed at run time, so building needs no BLAS headers or
// libraries and a machine without OpenBLAS just keeps the wasm kernels.
//
// JS API (all numbers are plain JS numbers; offsets are byte offsets into `heap`, an ArrayBuffer):
//   open(libraryPath, threads) -> string          dlopen + dlsym, openblas_set_num_threads(threads); returns
//                                                  openblas_get_config(); throws if the library does not load
//   gemm(heap, batch, transA, transB, M, N, K,
//        aOff, aStride, bOff, bStride, cOff, cStride,
//        biasOff, biasLen, act, actAlpha)          C[b] = op(A[b])·op(B[b]) (+ bias) (activation), row-major;
//                                                  strides in elements between batch items (0 = broadcast);
//                                                  biasOff < 0: no bias; biasLen 1 or N; act: see Act below.
//   config() -> string                             openblas_get_config()
//   threads() -> number                            openblas_get_num_threads()
#define NAPI_VERSION 8
#include <dlfcn.h>
#include <math.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
enum Act { LINEAR = 0, RELU = 1, RELU6 = 2, LEAKYRELU = 3, SIGMOID = 4, ELU = 5 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_config_fn)(void);

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static void *lib;
static sgemm_fn sgemm;
static set_threads_fn set_threads;
static get_threads_fn get_threads;
static get_config_fn get_config;

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096];
  size_t len = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) return throw_error(env, "open(path, threads)");
  int32_t threads = 1;
  napi_get_value_int32(env, argv[1], &threads);
  // One BLAS per process: every thread (data-parallel replicas load the addon too) opens the same library.
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) return throw_error(env, dlerror());
  pthread_mutex_lock(&open_lock);
  const char *err = NULL;
  if (!lib) {
    sgemm_fn g = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (g) {
      set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
      get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
      get_config = (get_config_fn)dlsym(h, "openblas_get_config");
      sgemm = g;
      lib = h;
    } else {
      err = "cblas_sgemm not found in the library";
    }
  } else if (h != lib) {
    err = "another BLAS library is already open in this process";
  }
  pthread_mutex_unlock(&open_lock);
  if (h != lib) dlclose(h); // not the one in use (same library: dlopen counted a reference; it stays loaded)
  if (err) return throw_error(env, err);
  if (set_threads && threads > 0) set_threads(threads);
  napi_value out;
  napi_create_string_utf8(env, get_config ? get_config() : "unknown BLAS", NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value Threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_int32(env, get_threads ? get_threads() : -1, &out);
  return out;
}

static void activate(float *c, int64_t n, int act, float alpha) {
  int64_t i;
  switch (act) {
  case RELU:
    for (i = 0; i < n; i++) c[i] = c[i] > 0.f ? c[i] : 0.f;
    break;
  case RELU6:
    for (i = 0; i < n; i++) c[i] = c[i] < 0.f ? 0.f : (c[i] > 6.f ? 6.f : c[i]);
    break;
  case LEAKYRELU:
    for (i = 0; i < n; i++) c[i] = c[i] < 0.f ? alpha * c[i] : c[i];
    break;
  case SIGMOID:
    for (i = 0; i < n; i++) c[i] = 1.f / (1.f + expf(-c[i]));
    break;
  case ELU:
    for (i = 0; i < n; i++) c[i] = c[i] < 0.f ? expm1f(c[i]) : c[i];
    break;
  default:
    break;
  }
}

#define GEMM_ARGS 17
static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = GEMM_ARGS;
  napi_value argv[GEMM_ARGS];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < GEMM_ARGS || !sgemm) return throw_error(env, sgemm ? "gemm: 17 arguments" : "gemm: open() first");
  void *data;
  size_t byteLength;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &byteLength) != napi_ok) return throw_error(env, "gemm: heap must be an ArrayBuffer");
  int64_t v[GEMM_ARGS - 1];
  for (int i = 1; i < GEMM_ARGS - 1; i++) {
    if (napi_get_value_int64(env, argv[i], &v[i - 1]) != napi_ok) return throw_error(env, "gemm: numeric arguments");
  }
  double actAlpha = 0;
  napi_get_value_double(env, argv[GEMM_ARGS - 1], &actAlpha);
  const int64_t batch = v[0], ta = v[1], tb = v[2], M = v[3], N = v[4], K = v[5];
  const int64_t aOff = v[6], aStride = v[7], bOff = v[8], bStride = v[9], cOff = v[10], cStride = v[11];
  const int64_t biasOff = v[12], biasLen = v[13], act = v[14];
  if (batch < 0 || M < 0 || N < 0 || K < 0 || aStride < 0 || bStride < 0 || cStride < 0 || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
    return throw_error(env, "gemm: negative or too large size");
  if (batch == 0 || M == 0 || N == 0) return NULL;
  // Every byte touched must lie inside the heap: a wrong offset must throw, never scribble over wasm memory.
  const int64_t len = (int64_t)byteLength;
  const int64_t aEnd = aOff + 4 * ((batch - 1) * aStride + M * K), bEnd = bOff + 4 * ((batch - 1) * bStride + K * N);
  const int64_t cEnd = cOff + 4 * ((batch - 1) * cStride + M * N);
  if (aOff < 0 || bOff < 0 || cOff < 0 || (aOff | bOff | cOff) % 4 || aEnd > len || bEnd > len || cEnd > len)
    return throw_error(env, "gemm: operand outside the heap");
  if (biasOff >= 0 && (biasOff % 4 || (biasLen != 1 && biasLen != N) || biasOff + 4 * biasLen > len)) return throw_error(env, "gemm: bad bias");
  if (act < LINEAR || act > ELU) return throw_error(env, "gemm: unknown activation");
  char *heap = (char *)data;
  const float *bias = biasOff >= 0 ? (const float *)(heap + biasOff) : NULL;
  for (int64_t b = 0; b < batch; b++) {
    const float *A = (const float *)(heap + aOff) + b * aStride;
    const float *B = (const float *)(heap + bOff) + b * bStride;
    float *C = (float *)(heap + cOff) + b * cStride;
    float beta = 0.f;
    if (bias) {
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * N + j] = bias[biasLen == 1 ? 0 : j];
      beta = 1.f;
    }
    if (K == 0) {
      if (!bias) memset(C, 0, (size_t)(M * N) * 4);
    } else {
      sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, (int)M, (int)N, (int)K, 1.f, A, ta ? (int)M : (int)K, B,
            tb ? (int)K : (int)N, beta, C, (int)N);
    }
    if (act != LINEAR) activate(C, M * N, (int)act, (float)actAlpha);
  }
  return NULL;
}

static napi_value Config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, get_config ? get_config() : "", NAPI_AUTO_LENGTH, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_default, NULL},
      {"config", NULL, Config, NULL, NULL, NULL, napi_default, NULL},
      {"threads", NULL, Threads, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
