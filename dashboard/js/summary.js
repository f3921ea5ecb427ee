// One-line summaries of a job for tables: its key params (what tells a uint8 from a float16 quantize, a 50% from a
// 90% prune) and its headline result (accuracy after, on which split, and how much smaller) from GraphQL's
// Job.headline, so a list never downloads raw reports.
import { fmtPct } from './dom.js';

/** The job fields the headline reads (Job.headline, src/jobs/headline.ts); ask for them in the job list query. */
export const HEADLINE = `headline { accuracy split accuracyChangePp sizeRatio gzipRatio }`;

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
 * Job.headline as text: accuracy (its split, the change in points), then the raw size ratio, with the gzip ratio
 * beside it when that tells another story (pruning and clustering leave the raw size, shrink the gzip); '' for none.
 */
export function headline(hl) {
  if (!hl) return '';
  const parts = [];
  if (hl.accuracy !== null && hl.accuracy !== undefined) {
    const change =
      typeof hl.accuracyChangePp === 'number' ? `, ${hl.accuracyChangePp >= 0 ? '+' : '−'}${Math.abs(hl.accuracyChangePp).toFixed(2)} pt` : '';
    parts.push(`${fmtPct(hl.accuracy, 2)} (${hl.split ?? '?'}${change})`);
  }
  const { sizeRatio: raw, gzipRatio: gzip } = hl;
  if (raw && gzip && Math.abs(gzip / raw - 1) > 0.05) parts.push(`×${raw.toFixed(2)} smaller raw, ×${gzip.toFixed(2)} gzip`);
  else if (raw) parts.push(`×${raw.toFixed(2)} smaller`);
  return parts.join(' · ');
}
