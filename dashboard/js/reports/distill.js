// Distill report (issue 16): the teacher, the hard-label baseline (when trained: same student, same initial weights,
// labels only) and the distilled student side by side, and the share of the teacher–baseline gap distillation closed.
// Reads report.{teacher, baseline, after, gapClosed}.
import { fmtBytes, fmtInt, fmtPct, h } from '../dom.js';

export const isDistill = (raw) => Boolean(raw?.teacher && raw.after && Array.isArray(raw.comparison));

const ms = (x) => (x === null || x === undefined ? '—' : `${x < 1 ? x.toFixed(3) : x.toFixed(2)} ms`);
const ROWS = [
  ['Accuracy', (m) => fmtPct(m.accuracy, 2)],
  ['Parameters', (m) => fmtInt(m.params)],
  ['Nonzero parameters', (m) => fmtInt(m.nonzeroParams)],
  ['Size (raw)', (m) => fmtBytes(m.sizeBytes)],
  ['Size (gzip)', (m) => fmtBytes(m.gzipBytes)],
  ['Latency p50, batch 1', (m) => ms(m.latencyMs?.batch1?.p50)],
];

const pt = (x) => `${x >= 0 ? '+' : '−'}${(Math.abs(x) * 100).toFixed(2)} pt`;

/** What distillation gained over training the student on labels alone. */
function gapText(raw) {
  if (!raw.baseline) return 'No hard-label baseline was trained (params.baseline: false), so the gain of distillation is not measured.';
  const [t, b, s] = [raw.teacher.accuracy, raw.baseline.accuracy, raw.after.accuracy];
  if (typeof t !== 'number' || typeof b !== 'number' || typeof s !== 'number') return 'Accuracy was not measured.';
  const vs = `The distilled student is ${pt(s - b)} against the baseline.`;
  // gapClosed is only meaningful when the teacher is ahead of the baseline: otherwise there is no gap to close.
  if (t <= b) return `The hard-label baseline is at least as accurate as the teacher: no gap for distillation to close. ${vs}`;
  return `Distillation closed ${(((s - b) / (t - b)) * 100).toFixed(0)}% of the gap between the hard-label baseline and the teacher. ${vs}`;
}

export function distillView(raw) {
  const cols = [['Teacher', raw.teacher], ...(raw.baseline ? [['Hard-label baseline', raw.baseline]] : []), ['Distilled student', raw.after]];
  const split = raw.after.split ?? raw.teacher.split;
  return h(
    'div',
    { class: 'distill-view' },
    h(
      'table',
      { class: 'report distill', 'aria-label': 'Teacher, baseline and student' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Figure'),
          cols.map(([c]) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        ROWS.map(([label, fmt]) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, label, label === 'Accuracy' && split ? h('span', { class: 'muted' }, ` (${split} split)`) : null),
            cols.map(([, m]) => h('td', { class: 'num' }, fmt(m))),
          ),
        ),
      ),
    ),
    h('p', { class: 'gap' }, gapText(raw)),
  );
}
