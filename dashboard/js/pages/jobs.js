// Jobs table: status, type, key params, headline result, progress, backend, duration, inputs; filters by status and
// type (kept in the URL; the types are the JobType enum, i.e. the job-kind registry). Active rows update live through
// jobUpdated subscriptions; the list itself is refreshed every few seconds to pick up new jobs (and is the only
// source of updates when WebSockets are unavailable). Ticking 2-4 rows opens them side by side (#/compare?jobs=…).
import { gql, subscribe } from '../api.js';
import {
  enumLabel,
  enumValue,
  fill,
  FINISHED,
  fmtDuration,
  fmtTime,
  h,
  jobDuration,
  progressBar,
  setProgress,
  shortId,
  statusBadge,
} from '../dom.js';
import { compareBar } from '../compare-select.js';
import { HEADLINE, headline, keyParams } from '../summary.js';

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'];
const TYPES_QUERY = `query JobTypes { __type(name: "JobType") { enumValues { name } } }`;
let types = null; // the registry's kinds, fetched once
const PAGE = 100;
const REFRESH_MS = 3000;

export const JOB_ROW = `id type status backend params progress { fraction epoch step etaSeconds }
  createdAt startedAt finishedAt error { code message } model { id name } teacherModel { id name } dataset { id name } ${HEADLINE}`;

const LIST = `query Jobs($first: Int, $status: JobStatus, $type: JobType) {
  jobs(first: $first, status: $status, type: $type) { items { ${JOB_ROW} } nextCursor }
}`;
const UPDATED = `subscription Row($id: ID!) { jobUpdated(id: $id) { ${JOB_ROW} } }`;

export async function jobsPage({ main, scope, query }) {
  types ??= (await gql(TYPES_QUERY)).__type.enumValues.map((v) => enumLabel(v.name));
  if (!scope.alive) return;
  const TYPES = types;
  const status = STATUSES.includes(query.get('status')) ? query.get('status') : null;
  const type = TYPES.includes(query.get('type')) ? query.get('type') : null;

  const setFilter = (key, value) => {
    const q = new URLSearchParams({ ...(status ? { status } : {}), ...(type ? { type } : {}) });
    if (value) q.set(key, value);
    else q.delete(key);
    location.hash = `#/jobs${q.size ? `?${q}` : ''}`;
  };
  const select = (id, label, values, current, key) =>
    h(
      'div',
      { class: 'field' },
      h('label', { for: id }, label),
      h(
        'select',
        { id, name: key, onChange: (e) => setFilter(key, e.target.value) },
        h('option', { value: '' }, 'all'),
        values.map((v) => h('option', { value: v, selected: v === current }, v)),
      ),
    );

  const tbody = h('tbody');
  const compare = compareBar({ kind: 'jobs', noun: 'job' });
  const note = h('p', { class: 'muted', 'aria-live': 'polite' });
  fill(
    main,
    h('h1', {}, 'Jobs'),
    h(
      'form',
      { class: 'filters', 'aria-label': 'Filter jobs', onSubmit: (e) => e.preventDefault() },
      select('filter-status', 'Status', STATUSES, status, 'status'),
      select('filter-type', 'Type', TYPES, type, 'type'),
    ),
    compare.el,
    h(
      'table',
      { class: 'jobs', 'aria-label': 'Jobs' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Compare')),
          ['Job', 'Type', 'Key params', 'Result', 'Status', 'Progress', 'Backend', 'Duration', 'Inputs', 'Created'].map((c) =>
            h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      tbody,
    ),
    note,
  );

  const rows = new Map(); // id → { tr, job, unsubscribe }

  const render = (job) => {
    let row = rows.get(job.id);
    if (!row) {
      const cells = {
        status: h('td'),
        progress: h('td', {}, progressBar(0, `Progress of job ${shortId(job.id)}`)),
        backend: h('td'),
        result: h('td', { class: 'headline' }),
        duration: h('td', { class: 'num' }),
      };
      const inputs = [
        job.model && h('a', { href: `#/models/${job.model.id}` }, job.model.name),
        job.teacherModel && h('a', { href: `#/models/${job.teacherModel.id}`, title: 'Teacher' }, `teacher ${job.teacherModel.name}`),
        job.dataset && h('a', { href: `#/datasets/${job.dataset.id}` }, job.dataset.name),
      ].filter(Boolean);
      const tr = h(
        'tr',
        { dataset: { jobId: job.id } },
        h('td', {}, compare.checkbox(job.id, `job ${shortId(job.id)}`)),
        h('td', {}, h('a', { href: `#/jobs/${job.id}`, class: 'mono' }, shortId(job.id))),
        h('td', {}, enumLabel(job.type)),
        h('td', { class: 'params' }, keyParams(enumLabel(job.type), job.params) || '—'),
        cells.result,
        cells.status,
        cells.progress,
        cells.backend,
        cells.duration,
        h('td', {}, inputs.length ? inputs.flatMap((a, i) => (i ? [' · ', a] : [a])) : '—'),
        h('td', {}, fmtTime(job.createdAt)),
      );
      row = { tr, cells, job, unsubscribe: null };
      rows.set(job.id, row);
    }
    row.job = job;
    const c = row.cells;
    fill(c.status, statusBadge(job.status), job.error ? h('span', { class: 'sr-only' }, ` ${job.error.code}`) : null);
    if (job.error) c.status.title = `${job.error.code}: ${job.error.message}`;
    setProgress(c.progress.firstElementChild, job.status === 'SUCCEEDED' ? 1 : job.progress.fraction);
    c.backend.textContent = job.backend ?? '—';
    if (job.headline !== undefined) c.result.textContent = headline(job.headline) || '—';
    c.duration.textContent = fmtDuration(jobDuration(job));
    if (!FINISHED.has(job.status) && !row.unsubscribe) {
      row.unsubscribe = subscribe(UPDATED, { id: job.id }, { next: (d) => render(d.jobUpdated), complete() {}, error() {} });
    }
    if (FINISHED.has(job.status) && row.unsubscribe) {
      row.unsubscribe();
      row.unsubscribe = () => {}; // finished: keep it from subscribing again
    }
    return row;
  };

  const refresh = async () => {
    const { jobs } = await gql(LIST, { first: PAGE, status: enumValue(status), type: enumValue(type) });
    if (!scope.alive) return;
    const fresh = new Set(jobs.items.map((j) => j.id));
    for (const [id, row] of rows) {
      if (fresh.has(id)) continue;
      row.unsubscribe?.();
      row.tr.remove();
      rows.delete(id);
    }
    // A live row may be ahead of the list (its subscription delivered a newer state): never move it backwards.
    tbody.replaceChildren(
      ...jobs.items.map((j) => {
        const known = rows.get(j.id);
        return (known && known.job.progress.fraction > j.progress.fraction && j.status === known.job.status ? known : render(j)).tr;
      }),
    );
    note.textContent =
      jobs.items.length === 0
        ? 'No jobs match these filters yet.'
        : jobs.nextCursor
          ? `Showing the newest ${PAGE} jobs; narrow the filters to see others.`
          : `${jobs.items.length} job${jobs.items.length === 1 ? '' : 's'}.`;
  };

  await refresh();
  scope.interval(() => refresh().catch(() => {}), REFRESH_MS);
  scope.interval(() => {
    for (const row of rows.values()) if (row.job.status === 'RUNNING') row.cells.duration.textContent = fmtDuration(jobDuration(row.job));
  }, 1000);
  scope.add(() => rows.forEach((r) => r.unsubscribe?.()));
}
