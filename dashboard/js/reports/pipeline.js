// Pipeline report (issue 16): original → final, then each step — the model it left with its accuracy (and split)
// and sizes — from report.summary ({ rows, totals }, src/jobs/kinds/pipeline-summary.ts), with every step's own
// report underneath (a sensitivity step's scan as its chart).
import { dl, fmtBytes, fmtInt, fmtPct, h } from '../dom.js';
import { isSensitivity, sensitivityView } from './sensitivity.js';

export const isPipeline = (raw) => Boolean(raw && Array.isArray(raw.steps) && raw.summary && Array.isArray(raw.summary.rows));

const times = (x) => (x === null || x === undefined ? '—' : `×${x.toFixed(x < 10 ? 2 : 1)}`);
const pp = (x) => (x === null || x === undefined ? '—' : `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)} pt`);

/** `job`: { model, results } for model names; `stepReport(raw)` renders a step's own report (report.js's reportView). */
export function pipelineView(raw, { job, scope, stepReport }) {
  const names = new Map([...(job.model ? [[job.model.id, job.model.name]] : []), ...(job.results ?? []).map((m) => [m.id, m.name])]);
  const { rows, totals } = raw.summary;
  const link = (id) => h('a', { href: `#/models/${id}` }, names.get(id) ?? id.slice(0, 8));
  const table = h(
    'table',
    { class: 'report pipeline', 'aria-label': 'Pipeline: original to final, step by step' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Step', 'Model', 'Accuracy', 'Parameters', 'Nonzero parameters', 'Size (raw)', 'Size (gzip)'].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          { dataset: { step: String(r.step) } },
          h('th', { scope: 'row' }, r.step === 0 ? 'original' : `${r.step}. ${r.type}`),
          h('td', {}, link(r.modelId)),
          h('td', { class: 'num' }, fmtPct(r.accuracy, 2), r.split ? h('span', { class: 'muted' }, ` (${r.split})`) : null),
          h('td', { class: 'num' }, fmtInt(r.params)),
          h('td', { class: 'num' }, fmtInt(r.nonzeroParams)),
          h('td', { class: 'num' }, fmtBytes(r.sizeBytes)),
          h('td', { class: 'num' }, fmtBytes(r.gzipBytes)),
        ),
      ),
    ),
  );
  const final = [...rows].reverse().find((r) => r.step > 0 && r.gzipBytes !== null);
  return h(
    'div',
    { class: 'pipeline-view' },
    dl([
      ['Original → final', final ? [link(rows[0].modelId), ' → ', link(final.modelId)] : 'no step produced a measured model'],
      ['Smaller (fp32 raw → final gzip)', times(totals.sizeRatio)],
      ['Smaller (gzip → gzip)', times(totals.gzipRatio)],
      ['Accuracy change', pp(totals.accuracyChangePp)],
    ]),
    table,
    raw.steps.map((s, i) =>
      h(
        'details',
        { class: 'step-report' },
        h('summary', {}, `Step ${i + 1}: ${s.type} report`),
        s.report === null
          ? h('p', { class: 'muted' }, 'No report.')
          : isSensitivity(s.report)
            ? sensitivityView(s.report.scan, { scope, allocation: s.report.allocation, split: s.report.split, examples: s.report.examples })
            : stepReport(s.report),
      ),
    ),
  );
}
