// One-line summaries of a job for tables: its key params (what tells a uint8 from a float16 quantize, a 50% from a
// 90% prune) and its headline result (accuracy after, on which split, and how much smaller), from the typed report
// fields of GraphQL (HEADLINE below) so a list never downloads raw reports.
import { fmtPct, h } from './dom.js';

/** The report fields the headline reads; ask for them in the job list query. */
export const HEADLINE = `report { compressionRatio before { accuracy sizeBytes gzipBytes } after { accuracy split sizeBytes gzipBytes } }`;

// Params worth a glance, in display order, with how to show them; other params stay on the job page.
const KEYS = [
  ['dtype', (v) => v],
  ['qat', () => 'QAT'],
  ['granularity', (v) => (v === 'channel' ? 'per channel' : null)],
  ['method', (v) => v],
  ['sparsity', (v) => `sparsity ${v}`],
  ['scope', (v) => `${v} scope`],
  ['bits', (v) => `${v} bits`],
  ['clusters', (v) => `${v} clusters`],
  ['objective', (v) => `objective ${v}`],
  ['maxAccuracyDrop', (v) => `drop ≤ ${v} pt`],
  ['budget', (v) => [v?.trials && `${v.trials} trials`, v?.minutes && `${v.minutes} min`].filter(Boolean).join(', ') || null],
  ['temperature', (v) => `T=${v}`],
  ['alpha', (v) => `α=${v}`],
  ['baseline', (v) => (v ? 'with baseline' : null)],
  ['targetSparsity', (v) => `target ${v}`],
  ['sparsities', (v) => (Array.isArray(v) ? `${v.length} sparsities` : null)],
  ['split', (v) => `${v} split`],
  ['epochs', (v) => `${v} epoch${v === 1 ? '' : 's'}`],
  ['fineTuneEpochs', (v) => `${v} fine-tuning epoch${v === 1 ? '' : 's'}`],
];

/** "uint8 · QAT", "magnitude · sparsity 0.9 · global scope", a pipeline's steps joined by →. */
export function keyParams(type, params) {
  const p = params ?? {};
  if (String(type).toLowerCase() === 'pipeline' && Array.isArray(p.steps)) {
    return p.steps.map((s) => `${s.type}${keyParams(s.type, s.params) ? ` (${keyParams(s.type, s.params)})` : ''}`).join(' → ');
  }
  return KEYS.map(([k, fmt]) => (p[k] === undefined || p[k] === null || p[k] === false ? null : fmt(p[k])))
    .filter(Boolean)
    .join(' · ');
}

/**
 * Accuracy after (its split, the change in points) and the size ratio before/after of the raw files, with the gzip
 * ratio beside it when that tells another story (pruning and clustering leave the raw size, shrink the gzip); ''
 * when the report has no after.
 */
export function headline(report) {
  if (!report?.after) return '';
  const { before, after } = report;
  const parts = [];
  if (after.accuracy !== null && after.accuracy !== undefined) {
    const change =
      before?.accuracy !== null && before?.accuracy !== undefined
        ? `, ${after.accuracy >= before.accuracy ? '+' : '−'}${(Math.abs(after.accuracy - before.accuracy) * 100).toFixed(2)} pt`
        : '';
    parts.push(`${fmtPct(after.accuracy, 2)} (${after.split ?? '?'}${change})`);
  }
  const raw = report.compressionRatio;
  const gzip = before?.gzipBytes && after.gzipBytes ? before.gzipBytes / after.gzipBytes : null;
  if (raw && gzip && Math.abs(gzip / raw - 1) > 0.05) parts.push(`×${raw.toFixed(2)} smaller raw, ×${gzip.toFixed(2)} gzip`);
  else if (raw) parts.push(`×${raw.toFixed(2)} smaller`);
  return parts.join(' · ');
}

export const headlineCell = (report) => h('td', { class: 'headline' }, headline(report) || '—');
