// Optional native accelerator for the wasm backend (issue 15): single-precision GEMM through the system's OpenBLAS
// (Debian: libopenblas0-pthread), called directly on the wasm backend's heap. wasm SIMD (128-bit, no FMA) reaches
// ~20 GFLOP/s on a 1024² matmul; OpenBLAS one thread ~88 here, and most of a dense training step is GEMM.
// Plain N-API C (no node-addon-api, no node-gyp): built on first use by src/ml/kernels/native-blas.ts with the
// system's C compiler and Node's headers; OpenBLAS is dlopen'ed at run time, so building needs no BLAS headers or
// libraries and a machine without OpenBLAS just keeps the wasm kernels.
//
// JS API (all numbers are plain JS numbers; offsets are byte offsets into `heap`, an ArrayBuffer):
//   open(libraryPath, threads, replace?) -> string dlopen + dlsym, openblas_set_num_threads(threads); returns
//                                                  openblas_get_config(); throws if the library does not load.
//                                                  One BLAS per process: once one is open, a later open keeps it
//                                                  (whatever path) unless `replace` (a copy loaded to re-run
//                                                  OpenBLAS's CPU detection; the old one stays mapped)
//   libraryFile() -> string                        the open library's file (dladdr), "" if none
//   gemm(heap, batch, transA, transB, M, N, K,
//        aOff, aStride, bOff, bStride, cOff, cStride,
//        biasOff, biasLen, act, actAlpha)          C[b] = op(A[b])·op(B[b]) (+ bias) (activation), row-major;
//                                                  strides in elements between batch items (0 = broadcast);
//                                                  biasOff < 0: no bias; biasLen 1 or N; act: see Act below.
//   conv(heap, mode, params: Float64Array)         2-D convolution, NHWC, filter [FH,FW,Cin,Cout], by im2col + sgemm
//                                                  in row chunks that stay in cache; params (see enum P below):
//                                                  mode 0: y = conv(x, w) (+ bias) (activation)
//                                                  mode 1: dw = Σ im2col(x)ᵀ·dy   (the filter gradient)
//                                                  mode 2: dx = col2im(dy·wᵀ)      (the input gradient)
//   maxPoolGrad(heap, params: Float64Array)        dx of max pooling, NHWC (enum Q below); not BLAS, but its JS loop
//                                                  was the largest kernel of a LeNet-5 step once the convs were native
//   config() -> string                             openblas_get_config()
//   threads() -> number                            openblas_get_num_threads()
//   threadCpuMs() -> number                        the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), for the
//                                                  data-parallel phase profile: /proc's schedstat is only updated at
//                                                  scheduler ticks, too coarse for sub-millisecond phases
#define NAPI_VERSION 8
#include <dlfcn.h>
#include <stdbool.h>
#include <math.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096];
  size_t len = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) return throw_error(env, "open(path, threads)");
  int32_t threads = 1;
  napi_get_value_int32(env, argv[1], &threads);
  bool replace = false;
  if (argc >= 3) napi_get_value_bool(env, argv[2], &replace);
  // One BLAS per process: every thread (data-parallel replicas load the addon too) opens the same library.
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) return throw_error(env, dlerror());
  pthread_mutex_lock(&open_lock);
  const char *err = NULL;
  if (!lib || (replace && h != lib)) {
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
  }
  pthread_mutex_unlock(&open_lock);
  if (h != lib) dlclose(h); // not the one in use (same library: dlopen counted a reference; it stays loaded)
  if (err) return throw_error(env, err);
  if (set_threads && threads > 0) set_threads(threads);
  napi_value out;
  napi_create_string_utf8(env, get_config ? get_config() : "unknown BLAS", NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value LibraryFile(napi_env env, napi_callback_info info) {
  (void)info;
  Dl_info d;
  const char *file = (sgemm && dladdr((void *)sgemm, &d) && d.dli_fname) ? d.dli_fname : "";
  napi_value out;
  napi_create_string_utf8(env, file, NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value Threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_int32(env, get_threads ? get_threads() : -1, &out);
  return out;
}

// Branch-free forms (select, not jump), so the loops vectorize: a relu branch on random signs mispredicts half the
// time (602k elements of LeNet-5's first conv: 2.7 ms with a branch). NaN stays NaN as in tfjs.
static void activate(float *c, int64_t n, int act, float alpha) {
  int64_t i;
  switch (act) {
  case RELU:
    for (i = 0; i < n; i++) c[i] = c[i] < 0.f ? 0.f : c[i];
    break;
  case RELU6:
    for (i = 0; i < n; i++) {
      const float v = c[i] < 0.f ? 0.f : c[i];
      c[i] = v > 6.f ? 6.f : v;
    }
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

// ---- convolution -------------------------------------------------------------------------------------------------
enum P { N_, H_, W_, CIN, OH, OW, COUT, FH, FW, SH, SW, DH, DW, PT, PL, X_OFF, W_OFF, Y_OFF, BIAS_OFF, BIAS_LEN, ACT, ALPHA, P_COUNT };
enum { FORWARD = 0, FILTER_GRAD = 1, INPUT_GRAD = 2 };

// A per-thread scratch buffer for the im2col chunks, kept between calls (freed when the thread exits).
typedef struct {
  float *p;
  size_t cap;
} Scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static void scratch_free(void *s) {
  free(((Scratch *)s)->p);
  free(s);
}
static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }
static float *scratch(size_t n) {
  pthread_once(&scratch_once, scratch_init);
  Scratch *s = pthread_getspecific(scratch_key);
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_setspecific(scratch_key, s);
  }
  if (s->cap < n) {
    free(s->p);
    s->p = malloc(n * sizeof(float));
    s->cap = s->p ? n : 0;
  }
  return s->p;
}

typedef struct {
  int64_t n, h, w, cin, oh, ow, cout, fh, fw, sh, sw, dh, dw, pt, pl;
} Geo;

// Columns j in [*lo, *hi) of filter row i see inputs inside the image for output column ow (the rest is padding).
static void cols_range(const Geo *g, int64_t ow, int64_t *lo, int64_t *hi) {
  const int64_t base = ow * g->sw - g->pl; // iw = base + j·dw must lie in [0, w)
  int64_t a = base < 0 ? (-base + g->dw - 1) / g->dw : 0;
  int64_t b = g->w - base > 0 ? (g->w - base + g->dw - 1) / g->dw : 0;
  if (b > g->fw) b = g->fw;
  if (a > b) a = b;
  *lo = a;
  *hi = b;
}

// Rows r0..r0+R of the im2col matrix of x: row (n, oh, ow), columns (i, j, c) like the filter's [FH,FW,Cin]. With
// dilation 1 the in-image part of each filter row is one contiguous run of x.
static void im2col(const Geo *g, const float *x, int64_t r0, int64_t R, float *S) {
  const int64_t K = g->fh * g->fw * g->cin, ohw = g->oh * g->ow, cin = g->cin;
  for (int64_t r = 0; r < R; r++) {
    const int64_t row = r0 + r, n = row / ohw, oh = (row % ohw) / g->ow, ow = row % g->ow, base = ow * g->sw - g->pl;
    int64_t lo, hi;
    cols_range(g, ow, &lo, &hi);
    float *dst = S + r * K;
    for (int64_t i = 0; i < g->fh; i++) {
      const int64_t ih = oh * g->sh - g->pt + i * g->dh;
      float *d = dst + i * g->fw * cin;
      if (ih < 0 || ih >= g->h || lo == hi) {
        memset(d, 0, (size_t)(g->fw * cin) * 4);
        continue;
      }
      const float *src = x + (n * g->h + ih) * g->w * cin;
      if (lo > 0) memset(d, 0, (size_t)(lo * cin) * 4);
      if (g->dw == 1) memcpy(d + lo * cin, src + (base + lo) * cin, (size_t)((hi - lo) * cin) * 4);
      else
        for (int64_t j = lo; j < hi; j++) memcpy(d + j * cin, src + (base + j * g->dw) * cin, (size_t)cin * 4);
      if (hi < g->fw) memset(d + hi * cin, 0, (size_t)((g->fw - hi) * cin) * 4);
    }
  }
}

// dx += the rows r0..r0+R of an im2col-shaped matrix T, scattered back to their input positions.
static void col2im(const Geo *g, const float *T, int64_t r0, int64_t R, float *dx) {
  const int64_t K = g->fh * g->fw * g->cin, ohw = g->oh * g->ow, cin = g->cin;
  for (int64_t r = 0; r < R; r++) {
    const int64_t row = r0 + r, n = row / ohw, oh = (row % ohw) / g->ow, ow = row % g->ow, base = ow * g->sw - g->pl;
    int64_t lo, hi;
    cols_range(g, ow, &lo, &hi);
    const float *src = T + r * K;
    for (int64_t i = 0; i < g->fh; i++) {
      const int64_t ih = oh * g->sh - g->pt + i * g->dh;
      if (ih < 0 || ih >= g->h) continue;
      float *rowp = dx + (n * g->h + ih) * g->w * cin;
      const float *s = src + i * g->fw * cin;
      if (g->dw == 1) {
        float *d = rowp + (base + lo) * cin;
        const float *t = s + lo * cin;
        for (int64_t e = 0; e < (hi - lo) * cin; e++) d[e] += t[e];
      } else {
        for (int64_t j = lo; j < hi; j++) {
          float *d = rowp + (base + j * g->dw) * cin;
          for (int64_t c = 0; c < cin; c++) d[c] += s[j * cin + c];
        }
      }
    }
  }
}

// The transposed layout ("im2row"): row k = (i, j, c) of S^T holds, for the output pixels of lines l0..l0+L (a line
// is one (n, oh): OW pixels), the input element each of them sees through filter tap (i, j), channel c. Each copy
// is a run along ow (contiguous when stride·Cin is 1), so small-Cin layers (LeNet-5's first: Cin 1) copy whole
// image rows instead of one float per call. row2im is its scatter-add, for the input gradient.
static void tap_range(const Geo *g, int64_t j, int64_t *lo, int64_t *hi) {
  const int64_t off = j * g->dw - g->pl; // iw = ow·sw + off must lie in [0, w)
  int64_t a = off < 0 ? (-off + g->sw - 1) / g->sw : 0;
  int64_t b = g->w - off > 0 ? (g->w - off + g->sw - 1) / g->sw : 0;
  if (b > g->ow) b = g->ow;
  if (a > b) a = b;
  *lo = a;
  *hi = b;
}

static void im2row(const Geo *g, const float *x, int64_t l0, int64_t L, float *St) {
  const int64_t Rn = L * g->ow, step = g->sw * g->cin;
  for (int64_t i = 0; i < g->fh; i++)
    for (int64_t j = 0; j < g->fw; j++) {
      int64_t lo, hi;
      tap_range(g, j, &lo, &hi);
      const int64_t off = j * g->dw - g->pl;
      for (int64_t c = 0; c < g->cin; c++) {
        float *dst = St + ((i * g->fw + j) * g->cin + c) * Rn;
        for (int64_t l = 0; l < L; l++) {
          const int64_t line = l0 + l, n = line / g->oh, oh = line % g->oh, ih = oh * g->sh - g->pt + i * g->dh;
          float *d = dst + l * g->ow;
          if (ih < 0 || ih >= g->h) {
            memset(d, 0, (size_t)g->ow * 4);
            continue;
          }
          const float *row = x + (n * g->h + ih) * g->w * g->cin + c;
          for (int64_t ow = 0; ow < lo; ow++) d[ow] = 0.f;
          if (step == 1) memcpy(d + lo, row + lo + off, (size_t)(hi - lo) * 4);
          else
            for (int64_t ow = lo; ow < hi; ow++) d[ow] = row[(ow * g->sw + off) * g->cin];
          for (int64_t ow = hi; ow < g->ow; ow++) d[ow] = 0.f;
        }
      }
    }
}

static void row2im(const Geo *g, const float *Tt, int64_t l0, int64_t L, float *dx) {
  const int64_t Rn = L * g->ow;
  for (int64_t i = 0; i < g->fh; i++)
    for (int64_t j = 0; j < g->fw; j++) {
      int64_t lo, hi;
      tap_range(g, j, &lo, &hi);
      const int64_t off = j * g->dw - g->pl;
      for (int64_t c = 0; c < g->cin; c++) {
        const float *src = Tt + ((i * g->fw + j) * g->cin + c) * Rn;
        for (int64_t l = 0; l < L; l++) {
          const int64_t line = l0 + l, n = line / g->oh, oh = line % g->oh, ih = oh * g->sh - g->pt + i * g->dh;
          if (ih < 0 || ih >= g->h) continue;
          const float *s = src + l * g->ow;
          float *row = dx + (n * g->h + ih) * g->w * g->cin + c;
          for (int64_t ow = lo; ow < hi; ow++) row[(ow * g->sw + off) * g->cin] += s[ow];
        }
      }
    }
}

// Rows per chunk: the chunk's im2col block about 256 KiB (stays in L2 between its writing and the GEMM), ≥ 64 rows.
static int64_t chunk_rows(int64_t K, int64_t rows) {
  int64_t R = 65536 / (K > 0 ? K : 1);
  if (R < 64) R = 64;
  return R < rows ? R : rows;
}

static void bias_act(float *y, int64_t rows, int64_t cout, const float *bias, int64_t biasLen, int act, float alpha) {
  if (bias && biasLen == 1) {
    const float b = bias[0];
    for (int64_t i = 0; i < rows * cout; i++) y[i] += b;
  } else if (bias) {
    for (int64_t i = 0; i < rows; i++) {
      float *r = y + i * cout;
      for (int64_t c = 0; c < cout; c++) r[c] += bias[c];
    }
  }
  if (act != LINEAR) activate(y, rows * cout, act, alpha);
}

static napi_value Conv(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || !sgemm) return throw_error(env, sgemm ? "conv(heap, mode, params)" : "conv: open() first");
  void *data;
  size_t byteLength;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &byteLength) != napi_ok) return throw_error(env, "conv: heap must be an ArrayBuffer");
  int32_t mode;
  if (napi_get_value_int32(env, argv[1], &mode) != napi_ok || mode < FORWARD || mode > INPUT_GRAD) return throw_error(env, "conv: bad mode");
  napi_typedarray_type type;
  size_t length;
  void *pdata;
  if (napi_get_typedarray_info(env, argv[2], &type, &length, &pdata, NULL, NULL) != napi_ok || type != napi_float64_array || length < P_COUNT)
    return throw_error(env, "conv: params must be a Float64Array");
  const double *p = (const double *)pdata;
  Geo g = {(int64_t)p[N_], (int64_t)p[H_], (int64_t)p[W_], (int64_t)p[CIN], (int64_t)p[OH], (int64_t)p[OW], (int64_t)p[COUT], (int64_t)p[FH],
           (int64_t)p[FW], (int64_t)p[SH], (int64_t)p[SW], (int64_t)p[DH], (int64_t)p[DW], (int64_t)p[PT], (int64_t)p[PL]};
  const int64_t xOff = (int64_t)p[X_OFF], wOff = (int64_t)p[W_OFF], yOff = (int64_t)p[Y_OFF], biasOff = (int64_t)p[BIAS_OFF];
  const int64_t biasLen = (int64_t)p[BIAS_LEN], act = (int64_t)p[ACT];
  const float alpha = (float)p[ALPHA];
  if (g.n < 0 || g.h < 0 || g.w < 0 || g.cin < 0 || g.oh < 0 || g.ow < 0 || g.cout < 0 || g.fh < 1 || g.fw < 1 || g.sh < 1 || g.sw < 1 || g.dh < 1 ||
      g.dw < 1 || g.cin > INT32_MAX || g.cout > INT32_MAX)
    return throw_error(env, "conv: bad geometry");
  const int64_t K = g.fh * g.fw * g.cin, rows = g.n * g.oh * g.ow, len = (int64_t)byteLength;
  if (xOff < 0 || wOff < 0 || yOff < 0 || (xOff | wOff | yOff) % 4 || xOff + 4 * g.n * g.h * g.w * g.cin > len || wOff + 4 * K * g.cout > len ||
      yOff + 4 * rows * g.cout > len || K > INT32_MAX || rows > INT32_MAX)
    return throw_error(env, "conv: operand outside the heap");
  if (mode == FORWARD && biasOff >= 0 && (biasOff % 4 || (biasLen != 1 && biasLen != g.cout) || biasOff + 4 * biasLen > len))
    return throw_error(env, "conv: bad bias");
  if (act < LINEAR || act > ELU) return throw_error(env, "conv: unknown activation");
  char *heap = (char *)data;
  float *x = (float *)(heap + xOff), *w = (float *)(heap + wOff), *y = (float *)(heap + yOff);
  // Zero-size: outputs of size 0 need nothing; an empty sum is zeros.
  if (mode == FILTER_GRAD && (rows == 0 || K * g.cout == 0)) {
    memset(w, 0, (size_t)(K * g.cout) * 4);
    return NULL;
  }
  if (mode == INPUT_GRAD) memset(x, 0, (size_t)(g.n * g.h * g.w * g.cin) * 4);
  if (rows == 0 || g.cout == 0) return NULL;
  if (mode == FORWARD && K == 0) memset(y, 0, (size_t)(rows * g.cout) * 4);
  if (K == 0) return NULL;
  const float *bias = mode == FORWARD && biasOff >= 0 ? (const float *)(heap + biasOff) : NULL;
  // A 1×1, stride-1, unpadded convolution is already a plain product: x is its own im2col matrix.
  const int direct = g.fh == 1 && g.fw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.oh == g.h && g.ow == g.w;
  // im2col rows copy runs of FW·Cin floats (dilation 1) or Cin; short runs (LeNet-5's first layer: 5) are faster in
  // the transposed layout, whose runs are output rows (measured, 128×28×28×1 * 5×5×1×6: 7.7 → 1.2 ms forward).
  const int rowsLayout = (g.dw == 1 ? g.cin * g.fw : g.cin) >= 16;
  if (direct || rowsLayout) {
    const int64_t R = chunk_rows(K, rows);
    float *S = direct ? NULL : scratch((size_t)(R * K));
    if (!direct && !S) return throw_error(env, "conv: out of memory");
    for (int64_t r0 = 0; r0 < rows; r0 += R) {
      const int64_t r = rows - r0 < R ? rows - r0 : R;
      float *cols = direct ? x + r0 * K : S;
      float *yc = y + r0 * g.cout;
      if (mode == FORWARD) {
        if (!direct) im2col(&g, x, r0, r, S);
        sgemm(RowMajor, NoTrans, NoTrans, (int)r, (int)g.cout, (int)K, 1.f, cols, (int)K, w, (int)g.cout, 0.f, yc, (int)g.cout);
        bias_act(yc, r, g.cout, bias, biasLen, (int)act, alpha);
      } else if (mode == FILTER_GRAD) {
        if (!direct) im2col(&g, x, r0, r, S);
        sgemm(RowMajor, Trans, NoTrans, (int)K, (int)g.cout, (int)r, 1.f, cols, (int)K, yc, (int)g.cout, r0 == 0 ? 0.f : 1.f, w, (int)g.cout);
      } else {
        // T = dy·wᵀ for these rows, then scattered back (a direct 1×1 writes dx itself).
        sgemm(RowMajor, NoTrans, Trans, (int)r, (int)K, (int)g.cout, 1.f, yc, (int)g.cout, w, (int)g.cout, 0.f, cols, (int)K);
        if (!direct) col2im(&g, S, r0, r, x);
      }
    }
    return NULL;
  }
  // The transposed layout, in chunks of whole output lines: S^T is K × (L·OW).
  const int64_t lines = g.n * g.oh;
  int64_t L = 65536 / (K * g.ow);
  if (L < 1) L = 1;
  if (L > lines) L = lines;
  float *St = scratch((size_t)(K * L * g.ow));
  if (!St) return throw_error(env, "conv: out of memory");
  for (int64_t l0 = 0; l0 < lines; l0 += L) {
    const int64_t l = lines - l0 < L ? lines - l0 : L, Rn = l * g.ow;
    float *yc = y + l0 * g.ow * g.cout;
    if (mode == FORWARD) {
      im2row(&g, x, l0, l, St);
      sgemm(RowMajor, Trans, NoTrans, (int)Rn, (int)g.cout, (int)K, 1.f, St, (int)Rn, w, (int)g.cout, 0.f, yc, (int)g.cout);
      bias_act(yc, Rn, g.cout, bias, biasLen, (int)act, alpha);
    } else if (mode == FILTER_GRAD) {
      im2row(&g, x, l0, l, St);
      sgemm(RowMajor, NoTrans, NoTrans, (int)K, (int)g.cout, (int)Rn, 1.f, St, (int)Rn, yc, (int)g.cout, l0 == 0 ? 0.f : 1.f, w, (int)g.cout);
    } else {
      sgemm(RowMajor, NoTrans, Trans, (int)K, (int)Rn, (int)g.cout, 1.f, w, (int)g.cout, yc, (int)g.cout, 0.f, St, (int)Rn);
      row2im(&g, St, l0, l, x);
    }
  }
  return NULL;
}

// ---- max-pool gradient ---------------------------------------------------------------------------------------------
// The semantics of src/ml/kernels/max-pool-grad.ts (the cpu backend's): each window's first maximum in scan order
// (a strict > from -Infinity: NaN and -Infinity never win, padding never wins) receives the window's dy.
enum Q { QN, QH, QW, QC, QOH, QOW, QFH, QFW, QSH, QSW, QDH, QDW, QPT, QPL, QX, QDY, QDX, Q_COUNT };

static napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data;
  size_t byteLength;
  if (argc < 2 || napi_get_arraybuffer_info(env, argv[0], &data, &byteLength) != napi_ok) return throw_error(env, "maxPoolGrad(heap, params)");
  napi_typedarray_type type;
  size_t length;
  void *pdata;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &pdata, NULL, NULL) != napi_ok || type != napi_float64_array || length < Q_COUNT)
    return throw_error(env, "maxPoolGrad: params must be a Float64Array");
  const double *p = (const double *)pdata;
  const int64_t n = (int64_t)p[QN], h = (int64_t)p[QH], w = (int64_t)p[QW], C = (int64_t)p[QC], oh = (int64_t)p[QOH], ow = (int64_t)p[QOW];
  const int64_t fh = (int64_t)p[QFH], fw = (int64_t)p[QFW], sh = (int64_t)p[QSH], sw = (int64_t)p[QSW], dh = (int64_t)p[QDH], dw = (int64_t)p[QDW];
  const int64_t pt = (int64_t)p[QPT], pl = (int64_t)p[QPL], xOff = (int64_t)p[QX], dyOff = (int64_t)p[QDY], dxOff = (int64_t)p[QDX];
  if (n < 0 || h < 0 || w < 0 || C < 0 || oh < 0 || ow < 0 || fh < 1 || fw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1)
    return throw_error(env, "maxPoolGrad: bad geometry");
  const int64_t len = (int64_t)byteLength, inSize = n * h * w * C, outSize = n * oh * ow * C;
  if (xOff < 0 || dyOff < 0 || dxOff < 0 || (xOff | dyOff | dxOff) % 4 || xOff + 4 * inSize > len || dxOff + 4 * inSize > len || dyOff + 4 * outSize > len)
    return throw_error(env, "maxPoolGrad: operand outside the heap");
  char *heap = (char *)data;
  const float *x = (const float *)(heap + xOff), *dy = (const float *)(heap + dyOff);
  float *dx = (float *)(heap + dxOff);
  memset(dx, 0, (size_t)inSize * 4);
  if (outSize == 0) return NULL;
  const int64_t taps = ((fh + dh - 1) / dh) * ((fw + dw - 1) / dw);
  int64_t *window = malloc((size_t)taps * sizeof(int64_t));
  if (!window) return throw_error(env, "maxPoolGrad: out of memory");
  for (int64_t b = 0; b < n; b++)
    for (int64_t y = 0; y < oh; y++)
      for (int64_t xo = 0; xo < ow; xo++) {
        int64_t size = 0; // offsets (of channel 0) of the window's in-bounds elements, in scan order
        for (int64_t kh = 0; kh < fh; kh += dh) {
          const int64_t ih = y * sh - pt + kh;
          if (ih < 0 || ih >= h) continue;
          for (int64_t kw = 0; kw < fw; kw += dw) {
            const int64_t iw = xo * sw - pl + kw;
            if (iw >= 0 && iw < w) window[size++] = ((b * h + ih) * w + iw) * C;
          }
        }
        // Per channel, a branch-free scan (select, not jump: relu outputs tie at 0 and mispredicted a branch
        // half the time: 5.6 → 3.2 ms on LeNet-5's first pool gradient, load 16).
        const float *g = dy + ((b * oh + y) * ow + xo) * C;
        for (int64_t c = 0; c < C; c++) {
          float m = -INFINITY;
          int64_t a = -1;
          for (int64_t k = 0; k < size; k++) {
            const int64_t i = window[k] + c;
            const float v = x[i];
            const int gt = v > m;
            m = gt ? v : m;
            a = gt ? i : a;
          }
          if (a >= 0) dx[a] += g[c];
        }
      }
  free(window);
  return NULL;
}

static napi_value Config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, get_config ? get_config() : "", NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value ThreadCpuMs(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  napi_value out;
  napi_create_double(env, ts.tv_sec * 1e3 + ts.tv_nsec / 1e6, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_default, NULL},
      {"conv", NULL, Conv, NULL, NULL, NULL, napi_default, NULL},
      {"maxPoolGrad", NULL, MaxPoolGrad, NULL, NULL, NULL, napi_default, NULL},
      {"config", NULL, Config, NULL, NULL, NULL, napi_default, NULL},
      {"threads", NULL, Threads, NULL, NULL, NULL, napi_default, NULL},
      {"libraryFile", NULL, LibraryFile, NULL, NULL, NULL, napi_default, NULL},
      {"threadCpuMs", NULL, ThreadCpuMs, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
