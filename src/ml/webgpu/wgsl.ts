// WGSL sources of the WebGPU training step's kernels (src/ml/webgpu/gpu-train-program.ts). Each generator bakes the
// layer's fixed sizes in as constants; the batch's row count, which changes on an epoch's last batch, comes from the
// step's uniform (`st.rows`). Layouts are tfjs's: row-major, NHWC activations, HWIO conv filters, [in, out] dense
// kernels. Every kernel that produces an input gradient can multiply it by relu'(input) ("mask"), the gradient of the
// ReLU that ended the layer before (so no separate ReLU-gradient pass exists).

/** The per-step uniform every kernel can read (16 bytes). */
export const STEP_UNIFORM = 'struct Step { rows: u32, lr: f32, c1: f32, c2: f32 }\n@group(0) @binding(0) var<uniform> st: Step;\n';

/** Threads per workgroup of the one-thread-per-element kernels. */
export const WG = 256;

/** Linear invocation index of a 1-D launch spread over x and y (a dimension holds at most 65,535 workgroups). */
const LINEAR_ID = `let i = gid.y * nwg.x * ${WG}u + gid.x;`;
const LINEAR_ARGS = '@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u';

/** A storage buffer binding of group 0. */
const storage = (binding: number, name: string, access: 'read' | 'read_write' = 'read', type = 'f32') =>
  `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<${type}>;`;

/** Sums each workgroup array (indexed by the local index t) into its element 0. */
const treeSum = (...arrays: string[]) => `workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { ${arrays.map((a) => `${a}[t] += ${a}[t + s];`).join(' ')} }
    workgroupBarrier();
  }`;

/** A size that is a constant of the layer, or the batch's row count (times a per-row constant). */
export type Dim = number | { rowsTimes: number };
const dim = (d: Dim) => (typeof d === 'number' ? `${d}u` : `(st.rows * ${d.rowsTimes}u)`);

export interface GemmSpec {
  /** C[M×N] = A·B: A stored [M×K] (or [K×M] when transA), B stored [K×N] (or [N×K] when transB). */
  M: Dim;
  N: Dim;
  K: Dim;
  transA: boolean;
  transB: boolean;
  /** Add a bias[N] (binding 4). */
  bias: boolean;
  relu: boolean;
  /** Multiply C by (mask > 0), mask shaped as C (binding 5): relu' of the layer before. */
  mask: boolean;
}

/**
 * Tiled GEMM: a 16×16 workgroup computes a 64×64 block of C, 4×4 per thread, through 64×16 / 16×64 tiles of A and B
 * in workgroup memory. Bindings: 1 A, 2 B, 3 C, 4 bias, 5 mask.
 */
export function gemm(s: GemmSpec): string {
  const a = s.transA ? 'A[k * M + m]' : 'A[m * K + k]';
  const b = s.transB ? 'B[n * K + k]' : 'B[k * N + n]';
  return `${STEP_UNIFORM}
${storage(1, 'A')}
${storage(2, 'B')}
${storage(3, 'C', 'read_write')}
${s.bias ? storage(4, 'bias') : ''}
${s.mask ? storage(5, 'mask') : ''}
var<workgroup> As: array<array<f32, 64>, 16>;
var<workgroup> Bs: array<array<f32, 64>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let M = ${dim(s.M)}; let N = ${dim(s.N)}; let K = ${dim(s.K)};
  let row0 = wg.y * 64u; let col0 = wg.x * 64u;
  let tid = lid.y * 16u + lid.x;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    for (var e = tid; e < 1024u; e += 256u) {
      ${
        s.transA
          ? 'let kk = e / 64u; let mm = e % 64u;' // A stored [K×M]: consecutive threads read consecutive m
          : 'let kk = e % 16u; let mm = e / 16u;'
      }
      let m = row0 + mm; let k = k0 + kk;
      var va = 0.0;
      if (m < M && k < K) { va = ${a}; }
      As[kk][mm] = va;
      ${s.transB ? 'let kb = e % 16u; let nn = e / 16u;' : 'let kb = e / 64u; let nn = e % 64u;'}
      let n = col0 + nn; let k2 = k0 + kb;
      var vb = 0.0;
      if (n < N && k2 < K) { let k = k2; vb = ${b}; }
      Bs[kb][nn] = vb;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var av: array<f32, 4>; var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { av[i] = As[kk][lid.y * 4u + i]; bv[i] = Bs[kk][lid.x * 4u + i]; }
      for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]); } }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = row0 + lid.y * 4u + i;
    if (m >= M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = col0 + lid.x * 4u + j;
      if (n >= N) { continue; }
      var v = acc[i * 4u + j];
      ${s.bias ? 'v += bias[n];' : ''}
      ${s.relu ? 'v = max(v, 0.0);' : ''}
      ${s.mask ? 'if (mask[m * N + n] <= 0.0) { v = 0.0; }' : ''}
      C[m * N + n] = v;
    }
  }
}`;
}

/** Geometry of a 2-D window op (conv or pool), NHWC, as tfjs computes it for padding 'same' or 'valid'. */
export interface Window {
  inH: number;
  inW: number;
  inC: number;
  kH: number;
  kW: number;
  outH: number;
  outW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
}

/** tfjs's output size and top/left padding for 'same' / 'valid' (dilation 1). */
export function window(inH: number, inW: number, inC: number, kH: number, kW: number, strides: [number, number], pad: 'same' | 'valid'): Window {
  const [sh, sw] = strides;
  if (pad === 'valid') {
    return {
      inH,
      inW,
      inC,
      kH,
      kW,
      outH: Math.ceil((inH - kH + 1) / sh),
      outW: Math.ceil((inW - kW + 1) / sw),
      strideH: sh,
      strideW: sw,
      padTop: 0,
      padLeft: 0,
    };
  }
  const outH = Math.ceil(inH / sh);
  const outW = Math.ceil(inW / sw);
  const padH = Math.max((outH - 1) * sh + kH - inH, 0);
  const padW = Math.max((outW - 1) * sw + kW - inW, 0);
  return { inH, inW, inC, kH, kW, outH, outW, strideH: sh, strideW: sw, padTop: Math.floor(padH / 2), padLeft: Math.floor(padW / 2) };
}

const windowConsts = (w: Window) =>
  `const IH = ${w.inH}u; const IW = ${w.inW}u; const CI = ${w.inC}u; const KH = ${w.kH}u; const KW = ${w.kW}u;
const OH = ${w.outH}u; const OW = ${w.outW}u; const SH = ${w.strideH}u; const SW = ${w.strideW}u; const PT = ${w.padTop}u; const PL = ${w.padLeft}u;`;

/** Conv forward, one thread per output element. Bindings: 1 x, 2 filter [KH,KW,CI,CO], 3 out, 4 bias. */
export function convForward(w: Window, co: number, bias: boolean, relu: boolean): string {
  return `${STEP_UNIFORM}${windowConsts(w)} const CO = ${co}u;
${storage(1, 'x')}
${storage(2, 'f')}
${storage(3, 'y', 'read_write')}
${bias ? storage(4, 'bias') : ''}
@compute @workgroup_size(${WG})
fn main(${LINEAR_ARGS}) {
  ${LINEAR_ID}
  if (i >= st.rows * OH * OW * CO) { return; }
  let c = i % CO; let ow = (i / CO) % OW; let oh = (i / (CO * OW)) % OH; let b = i / (CO * OW * OH);
  var acc = ${bias ? 'bias[c]' : '0.0'};
  for (var kh = 0u; kh < KH; kh++) {
    let ih = i32(oh * SH + kh) - i32(PT);
    if (ih < 0 || ih >= i32(IH)) { continue; }
    for (var kw = 0u; kw < KW; kw++) {
      let iw = i32(ow * SW + kw) - i32(PL);
      if (iw < 0 || iw >= i32(IW)) { continue; }
      let xb = ((b * IH + u32(ih)) * IW + u32(iw)) * CI;
      let fb = (kh * KW + kw) * CI * CO + c;
      for (var ci = 0u; ci < CI; ci++) { acc = fma(x[xb + ci], f[fb + ci * CO], acc); }
    }
  }
  y[i] = ${relu ? 'max(acc, 0.0)' : 'acc'};
}`;
}

/**
 * Conv filter gradient: one workgroup per filter element (kh, kw, ci, co), its threads summing x·dy over the batch's
 * output positions, then a tree reduction. Bindings: 1 x, 2 dy, 3 dFilter.
 */
export function convFilterGrad(w: Window, co: number): string {
  return `${STEP_UNIFORM}${windowConsts(w)} const CO = ${co}u;
${storage(1, 'x')}
${storage(2, 'dy')}
${storage(3, 'df', 'read_write')}
var<workgroup> part: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let e = wg.y * nwg.x + wg.x;
  let valid = e < KH * KW * CI * CO;
  let c = e % CO; let ci = (e / CO) % CI; let kw = (e / (CO * CI)) % KW; let kh = e / (CO * CI * KW);
  var acc = 0.0;
  if (valid) {
    let total = st.rows * OH * OW;
    for (var j = t; j < total; j += ${WG}u) {
      let ow = j % OW; let oh = (j / OW) % OH; let b = j / (OW * OH);
      let ih = i32(oh * SH + kh) - i32(PT);
      let iw = i32(ow * SW + kw) - i32(PL);
      if (ih < 0 || ih >= i32(IH) || iw < 0 || iw >= i32(IW)) { continue; }
      acc = fma(x[((b * IH + u32(ih)) * IW + u32(iw)) * CI + ci], dy[j * CO + c], acc);
    }
  }
  part[t] = acc;
  ${treeSum('part')}
  if (t == 0u && valid) { df[e] = part[0]; }
}`;
}

/** Conv input gradient, one thread per input element; mask: times relu'(x). Bindings: 1 dy, 2 filter, 3 dx, 5 x. */
export function convInputGrad(w: Window, co: number, mask: boolean): string {
  return `${STEP_UNIFORM}${windowConsts(w)} const CO = ${co}u;
${storage(1, 'dy')}
${storage(2, 'f')}
${storage(3, 'dx', 'read_write')}
${mask ? storage(5, 'x') : ''}
@compute @workgroup_size(${WG})
fn main(${LINEAR_ARGS}) {
  ${LINEAR_ID}
  if (i >= st.rows * IH * IW * CI) { return; }
  ${mask ? 'if (x[i] <= 0.0) { dx[i] = 0.0; return; }' : ''}
  let ci = i % CI; let iw = (i / CI) % IW; let ih = (i / (CI * IW)) % IH; let b = i / (CI * IW * IH);
  var acc = 0.0;
  for (var kh = 0u; kh < KH; kh++) {
    let nh = i32(ih + PT) - i32(kh);
    if (nh < 0 || nh % i32(SH) != 0) { continue; }
    let oh = u32(nh) / SH;
    if (oh >= OH) { continue; }
    for (var kw = 0u; kw < KW; kw++) {
      let nw = i32(iw + PL) - i32(kw);
      if (nw < 0 || nw % i32(SW) != 0) { continue; }
      let ow = u32(nw) / SW;
      if (ow >= OW) { continue; }
      let db = ((b * OH + oh) * OW + ow) * CO;
      let fb = ((kh * KW + kw) * CI + ci) * CO;
      for (var c = 0u; c < CO; c++) { acc = fma(dy[db + c], f[fb + c], acc); }
    }
  }
  dx[i] = acc;
}`;
}

/** Max pool forward (the first maximum of each window, padding excluded). Bindings: 1 x, 3 y. */
export function maxPoolForward(w: Window): string {
  return `${STEP_UNIFORM}${windowConsts(w)}
${storage(1, 'x')}
${storage(3, 'y', 'read_write')}
@compute @workgroup_size(${WG})
fn main(${LINEAR_ARGS}) {
  ${LINEAR_ID}
  if (i >= st.rows * OH * OW * CI) { return; }
  let c = i % CI; let ow = (i / CI) % OW; let oh = (i / (CI * OW)) % OH; let b = i / (CI * OW * OH);
  var best = -3.402823e38;
  for (var kh = 0u; kh < KH; kh++) {
    let ih = i32(oh * SH + kh) - i32(PT);
    if (ih < 0 || ih >= i32(IH)) { continue; }
    for (var kw = 0u; kw < KW; kw++) {
      let iw = i32(ow * SW + kw) - i32(PL);
      if (iw < 0 || iw >= i32(IW)) { continue; }
      best = max(best, x[((b * IH + u32(ih)) * IW + u32(iw)) * CI + c]);
    }
  }
  y[i] = best;
}`;
}

/**
 * Max pool gradient, one thread per input element: the sum of dy over the windows whose first maximum it is; mask:
 * times relu'(x). Bindings: 1 dy, 2 x, 3 dx.
 */
export function maxPoolGrad(w: Window, mask: boolean): string {
  return `${STEP_UNIFORM}${windowConsts(w)}
${storage(1, 'dy')}
${storage(2, 'x')}
${storage(3, 'dx', 'read_write')}
@compute @workgroup_size(${WG})
fn main(${LINEAR_ARGS}) {
  ${LINEAR_ID}
  if (i >= st.rows * IH * IW * CI) { return; }
  ${mask ? 'if (x[i] <= 0.0) { dx[i] = 0.0; return; }' : ''}
  let c = i % CI; let iw = (i / CI) % IW; let ih = (i / (CI * IW)) % IH; let b = i / (CI * IW * IH);
  var acc = 0.0;
  for (var oh = 0u; oh < OH; oh++) {
    let h0 = i32(oh * SH) - i32(PT);
    if (i32(ih) < h0 || i32(ih) >= h0 + i32(KH)) { continue; }
    for (var ow = 0u; ow < OW; ow++) {
      let w0 = i32(ow * SW) - i32(PL);
      if (i32(iw) < w0 || i32(iw) >= w0 + i32(KW)) { continue; }
      // This window's first maximum (row-major scan, as tfjs's cpu backend).
      var best = -3.402823e38; var at = 0xffffffffu;
      for (var kh = 0u; kh < KH; kh++) {
        let hh = h0 + i32(kh);
        if (hh < 0 || hh >= i32(IH)) { continue; }
        for (var kw = 0u; kw < KW; kw++) {
          let ww = w0 + i32(kw);
          if (ww < 0 || ww >= i32(IW)) { continue; }
          let p = ((b * IH + u32(hh)) * IW + u32(ww)) * CI + c;
          if (x[p] > best) { best = x[p]; at = p; }
        }
      }
      if (at == i) { acc += dy[((b * OH + oh) * OW + ow) * CI + c]; }
    }
  }
  dx[i] = acc;
}`;
}

/** Column sums of dz [R×C] (bias gradients): one workgroup per column. Bindings: 1 dz, 3 out. */
export function columnSums(rowsTimes: number, columns: number): string {
  return `${STEP_UNIFORM}
${storage(1, 'dz')}
${storage(3, 'out', 'read_write')}
var<workgroup> part: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32) {
  let c = wg.x;
  let R = st.rows * ${rowsTimes}u;
  var acc = 0.0;
  for (var r = t; r < R; r += ${WG}u) { acc += dz[r * ${columns}u + c]; }
  part[t] = acc;
  ${treeSum('part')}
  if (t == 0u) { out[c] = part[0]; }
}`;
}

/** Copies the batch's rows (indices in idx) out of the resident data set. Bindings: 1 src, 2 idx (u32), 3 out. */
export function gatherRows(rowLength: number): string {
  return `${STEP_UNIFORM}
${storage(1, 'src')}
${storage(2, 'idx', 'read', 'u32')}
${storage(3, 'out', 'read_write')}
@compute @workgroup_size(${WG})
fn main(${LINEAR_ARGS}) {
  ${LINEAR_ID}
  if (i >= st.rows * ${rowLength}u) { return; }
  let r = i / ${rowLength}u;
  out[i] = src[idx[r] * ${rowLength}u + i % ${rowLength}u];
}`;
}

/**
 * Softmax cross-entropy of the batch in one workgroup: per row the loss, dL/dz (mean over rows) and whether the arg-max
 * matches the label, as src/ml/train-program.ts softmaxCrossEntropy; then totals[0] += Σ loss, totals[1] += correct,
 * totals[2] = the batch's mean loss. probabilities: z feeds a final softmax (clipped log, its gradient through the
 * softmax); relu: the last layer ended in a ReLU (dz times relu'(z)). Bindings: 1 z, 2 y, 3 dz, 4 totals.
 */
export function softmaxCrossEntropy(classes: number, probabilities: boolean, relu: boolean): string {
  const row = probabilities
    ? `var dot = 0.0;
    for (var c = 0u; c < C; c++) {
      let pc = exp(z[base + c] - mx) / sum;
      let cl = clamp(pc, EPS, 1.0 - EPS);
      let yc = y[base + c];
      if (yc != 0.0) { loss -= yc * log(cl); }
      var dp = 0.0;
      if (pc >= EPS && pc <= 1.0 - EPS) { dp = -yc / cl / f32(rows); }
      dz[base + c] = dp; // dp for now; times p after the dot product
      dot += dp * pc;
    }
    for (var c = 0u; c < C; c++) { let pc = exp(z[base + c] - mx) / sum; dz[base + c] = pc * (dz[base + c] - dot); }`
    : `let lse = log(sum);
    for (var c = 0u; c < C; c++) {
      let yc = y[base + c];
      if (yc != 0.0) { loss -= yc * (z[base + c] - mx - lse); }
      dz[base + c] = (exp(z[base + c] - mx) / sum - yc) / f32(rows);
    }`;
  return `${STEP_UNIFORM}
const C = ${classes}u; const EPS = 1e-7;
${storage(1, 'z')}
${storage(2, 'y')}
${storage(3, 'dz', 'read_write')}
${storage(4, 'totals', 'read_write')}
var<workgroup> lossPart: array<f32, ${WG}>;
var<workgroup> okPart: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32) {
  let rows = st.rows;
  var lossSum = 0.0; var ok = 0.0;
  for (var r = t; r < rows; r += ${WG}u) {
    let base = r * C;
    var mx = z[base]; var best = 0u; var label = 0u;
    for (var c = 1u; c < C; c++) {
      if (z[base + c] > mx) { mx = z[base + c]; best = c; }
      if (y[base + c] > y[base + label]) { label = c; }
    }
    if (best == label) { ok += 1.0; }
    var sum = 0.0;
    for (var c = 0u; c < C; c++) { sum += exp(z[base + c] - mx); }
    var loss = 0.0;
    ${row}
    ${relu ? 'for (var c = 0u; c < C; c++) { if (z[base + c] <= 0.0) { dz[base + c] = 0.0; } }' : ''}
    lossSum += loss;
  }
  lossPart[t] = lossSum; okPart[t] = ok;
  ${treeSum('lossPart', 'okPart')}
  if (t == 0u) { totals[0] += lossPart[0]; totals[1] += okPart[0]; totals[2] = lossPart[0] / f32(rows); }
}`;
}

export type UpdateRule = { kind: 'adam'; beta1: number; beta2: number; epsilon: number } | { kind: 'sgd' } | { kind: 'momentum'; momentum: number };

/**
 * The optimizer over the flat parameter buffer, tfjs's update rules (Adam with both bias corrections: st.c1 = 1 − β1^t,
 * st.c2 = 1 − β2^t). Bindings: 1 g, 2 w, 3 m (Adam's first moment / momentum's accumulator), 4 v.
 */
export function optimizerUpdate(size: number, rule: UpdateRule): string {
  const body =
    rule.kind === 'adam'
      ? `let mi = ${rule.beta1} * m[i] + ${1 - rule.beta1} * gi;
  let vi = ${rule.beta2} * v[i] + ${1 - rule.beta2} * gi * gi;
  m[i] = mi; v[i] = vi;
  w[i] -= st.lr * (mi / st.c1) / (sqrt(vi / st.c2) + ${rule.epsilon});`
      : rule.kind === 'momentum'
        ? `let a = ${rule.momentum} * m[i] + gi; m[i] = a; w[i] -= st.lr * a;`
        : 'w[i] -= st.lr * gi;';
  return `${STEP_UNIFORM}
${storage(1, 'g')}
${storage(2, 'w', 'read_write')}
${rule.kind === 'sgd' ? '' : storage(3, 'm', 'read_write')}
${rule.kind === 'adam' ? storage(4, 'v', 'read_write') : ''}
@compute @workgroup_size(${WG})
fn main(${LINEAR_ARGS}) {
  ${LINEAR_ID}
  if (i >= ${size}u) { return; }
  let gi = g[i];
  ${body}
}`;
}
