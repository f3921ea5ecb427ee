// DOM construction and number/time formatting. h() builds elements from attributes and children; strings become
// text nodes (never HTML), so nothing from the API is ever parsed as markup.

/**
 * h('a', { href: '#/x', class: 'btn' }, 'text', child) → <a>. Attributes: `class`, `text`, `on<Event>` (a listener),
 * `dataset` (an object), booleans (present when true), null/undefined/false (skipped); anything else is setAttribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces all children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const intFmt = new Intl.NumberFormat('en-US');

export const fmtInt = (n) => (n === null || n === undefined ? '—' : intFmt.format(Math.round(n)));

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

export const fmtPct = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(x * 100).toFixed(digits)}%`);

export const fmtNum = (x, digits = 4) =>
  x === null || x === undefined
    ? '—'
    : Number(x)
        .toPrecision(digits)
        .replace(/\.?0+$/, '');

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '—';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Run time of a job: started → finished, or → now while it runs. */
export function jobDuration(job, now = Date.now()) {
  if (!job.startedAt) return null;
  return (job.finishedAt ? Date.parse(job.finishedAt) : now) - Date.parse(job.startedAt);
}

export const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

export const shortId = (id) => (id ? id.slice(0, 8) : '—');

/** GraphQL enum values are UPPER_CASE (RUNNING, PRUNE); the dashboard shows, and keeps in URLs, the REST spelling. */
export const enumLabel = (value) => (typeof value === 'string' ? value.toLowerCase() : value);
/** A REST spelling (from a URL or a form) as the GraphQL enum value. */
export const enumValue = (label) => (typeof label === 'string' ? label.toUpperCase() : label);

export const FINISHED = new Set(['SUCCEEDED', 'FAILED', 'CANCELED']);

export const statusBadge = (status) => h('span', { class: `badge status-${enumLabel(status)}` }, enumLabel(status));

/** An accessible progress bar (role=progressbar, aria-valuenow in percent). */
export function progressBar(fraction, label) {
  const bar = h(
    'div',
    { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-label': label },
    h('div', { class: 'progress-fill' }),
  );
  const text = h('span', { class: 'progress-text' });
  const wrap = h('div', { class: 'progress-wrap' }, bar, text);
  setProgress(wrap, fraction);
  return wrap;
}

export function setProgress(wrap, fraction) {
  const pct = Math.round(Math.max(0, Math.min(1, fraction ?? 0)) * 100);
  const bar = wrap.querySelector('.progress');
  bar.setAttribute('aria-valuenow', String(pct));
  bar.firstElementChild.style.width = `${pct}%`;
  wrap.querySelector('.progress-text').textContent = `${pct}%`;
}

/** A definition list from [term, value] pairs (values may be nodes). */
export const dl = (pairs) =>
  h(
    'dl',
    { class: 'facts' },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]),
  );

export const errorBox = (e) => h('p', { class: 'error', role: 'alert' }, e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? e));
