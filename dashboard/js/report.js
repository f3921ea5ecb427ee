// The before/after compression report of prune / distill / quantize jobs ({ before, after, layers }, each side
// { params, nonzeroParams, sizeBytes, gzipBytes, accuracy, latencyMs: { batch1, batch256 } }), and its raw JSON
// for kinds whose report has another shape. jobReportView() puts a kind's own view (reports/*.js: autocompress's
// Pareto front, a sensitivity scan, a pipeline's original → final, distill's teacher/baseline/student) above it.
import { sparsityBars } from './charts.js';
import { fmtBytes, fmtInt, fmtPct, h } from './dom.js';
import { autocompressView, isAutocompress } from './reports/autocompress.js';
import { distillView, isDistill } from './reports/distill.js';
import { isPipeline, pipelineView } from './reports/pipeline.js';
import { isSensitivity, scanFromMetrics, sensitivityView } from './reports/sensitivity.js';

const ms = (x) => (x === null || x === undefined ? '—' : `${x < 1 ? x.toFixed(3) : x.toFixed(2)} ms`);
const ratio = (b, a) => (b && a !== null && a !== undefined ? `×${(a / b).toFixed(a / b < 0.1 ? 3 : 2)}` : '—');
const points = (b, a) =>
  b === null || b === undefined || a === null || a === undefined ? '—' : `${a >= b ? '+' : '−'}${(Math.abs(a - b) * 100).toFixed(2)} pt`;

const ROWS = [
  ['Parameters', (m) => m.params, fmtInt, ratio],
  ['Nonzero parameters', (m) => m.nonzeroParams, fmtInt, ratio],
  ['Size (raw)', (m) => m.sizeBytes, fmtBytes, ratio],
  ['Size (gzip)', (m) => m.gzipBytes, fmtBytes, ratio],
  ['Accuracy', (m) => m.accuracy, (x) => fmtPct(x, 2), points, (m) => m.split],
  ['Latency p50, batch 1', (m) => m.latencyMs?.batch1?.p50, ms, ratio],
  ['Latency p50, batch 256', (m) => m.latencyMs?.batch256?.p50, ms, ratio],
];

export const hasBeforeAfter = (raw) => Boolean(raw && typeof raw === 'object' && raw.before && raw.after);

/** The report section: a before/after table and the sparsity bars, or the raw JSON. */
export function reportView(raw) {
  if (!hasBeforeAfter(raw)) {
    return h(
      'div',
      {},
      h('p', { class: 'muted' }, 'This job wrote a report without before/after figures:'),
      h('pre', { class: 'json' }, JSON.stringify(raw, null, 2)),
    );
  }
  const table = h(
    'table',
    { class: 'report', 'aria-label': 'Compression report: before and after' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Figure', 'Before', 'After', 'Change'].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      {},
      ROWS.map(([label, get, fmt, change, splitOf]) => {
        const b = get(raw.before);
        const a = get(raw.after);
        // Name the data an accuracy comes from next to it ("test split"); train-split figures must never pass as test.
        const split = splitOf ? (splitOf(raw.after) ?? splitOf(raw.before)) : null;
        return h(
          'tr',
          {},
          h('th', { scope: 'row' }, label, split ? h('span', { class: 'muted' }, ` (${split} split)`) : null),
          h('td', { class: 'num' }, fmt(b)),
          h('td', { class: 'num' }, fmt(a)),
          h('td', { class: 'num' }, change(b, a)),
        );
      }),
    ),
  );
  const layers = Array.isArray(raw.layers) ? raw.layers : [];
  return h(
    'div',
    { class: 'report-view' },
    table,
    layers.length ? [h('h3', {}, 'Sparsity per layer'), sparsityBars(layers)] : null,
    h('details', {}, h('summary', {}, 'Raw report (JSON)'), h('pre', { class: 'json' }, JSON.stringify(raw, null, 2))),
  );
}

/** The kind's own view of a report: [heading, node], or null for kinds the before/after table says all about. */
function kindView(job, scope) {
  const raw = job.report?.raw;
  if (isAutocompress(raw)) return ['Autocompress: Pareto front', autocompressView(raw, { job, scope })];
  if (isPipeline(raw)) return ['Pipeline: original → final', pipelineView(raw, { job, scope, stepReport: reportView })];
  if (isDistill(raw)) return ['Teacher, baseline and student', distillView(raw)];
  if (isSensitivity(raw)) {
    return [
      'Sensitivity: accuracy per layer × sparsity',
      sensitivityView(raw.scan, { scope, allocation: raw.allocation, split: raw.split, examples: raw.examples }),
    ];
  }
  // A sensitivity job without its report yet (running, or failed part-way): the scan so far, from its metrics.
  const scan = job.type === 'SENSITIVITY' ? scanFromMetrics(job.metrics) : null;
  return scan ? ['Sensitivity: accuracy per layer × sparsity', sensitivityView(scan, { scope })] : null;
}

/**
 * The report section's content for a job ({ type, params, report: { raw }, metrics, model, results }): its kind's view
 * under an h2#report-h, then the before/after table (or, when the kind's view covers it, the raw JSON only).
 */
export function jobReportView(job, scope) {
  const raw = job.report?.raw;
  const own = kindView(job, scope);
  const generic = raw
    ? hasBeforeAfter(raw) || !own
      ? [h(own ? 'h3' : 'h2', own ? {} : { id: 'report-h' }, hasBeforeAfter(raw) ? 'Compression report' : 'Report'), reportView(raw)]
      : [h('details', {}, h('summary', {}, 'Raw report (JSON)'), h('pre', { class: 'json' }, JSON.stringify(raw, null, 2)))]
    : [];
  return own ? [h('h2', { id: 'report-h' }, own[0]), own[1], ...generic] : generic;
}
