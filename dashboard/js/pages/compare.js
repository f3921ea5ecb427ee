// Compare page (MLflow's run comparison): 2-4 jobs (#/compare?jobs=a,b) or models (#/compare?models=a,b) side by
// side — one column each; for jobs their inputs, every param (rows whose values differ are marked), the report's
// before/after figures and the latest metric values; for models their size, accuracy and origin.
import { gql } from '../api.js';
import { MAX_COMPARE, MIN_COMPARE } from '../compare-select.js';
import { enumLabel, fill, fmtBytes, fmtDuration, fmtInt, fmtNum, fmtPct, h, jobDuration, shortId, statusBadge } from '../dom.js';
import { metricLabel } from '../charts.js';
import { keyParams } from '../summary.js';

const MEASURE = `accuracy split params nonzeroParams sizeBytes gzipBytes flops latencyMs`;
const JOB = `query CompareJob($id: ID!) { job(id: $id) { id type status params createdAt startedAt finishedAt
  model { id name } teacherModel { id name } dataset { id name } results { id name }
  report { raw compressionRatio sparsity } latestMetrics { name step value } } }`;
const MODEL = `query CompareModel($id: ID!) { model(id: $id) { id name format params flops sizeBytes inputShape outputShape
  parent { id name } producedBy { id type } report { compressionRatio after { ${MEASURE} } } } }`;

const ms = (x) => (typeof x === 'number' ? `${x < 1 ? x.toFixed(3) : x.toFixed(2)} ms` : '—');
const acc = (m) => (m && typeof m.accuracy === 'number' ? `${fmtPct(m.accuracy, 2)}${m.split ? ` (${m.split})` : ''}` : '—');
const link = (kind, m) => (m ? h('a', { href: `#/${kind}/${m.id}` }, m.name) : '—');

/** Params flattened to dotted keys ({ budget: { trials: 2 } } → budget.trials), arrays and scalars as JSON. */
function flatten(obj, prefix = '', out = new Map()) {
  for (const [k, v] of Object.entries(obj ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
    else out.set(key, typeof v === 'string' ? v : JSON.stringify(v));
  }
  return out;
}

/** A compare table: `columns` are header cells, `groups` [title, rows] with rows [label, cells[], differs?]. */
function compareTable(label, columns, groups) {
  return h(
    'table',
    { class: 'report compare', 'aria-label': label },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Figure'),
        columns.map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    groups
      .filter(([, rows]) => rows.length)
      .map(([title, rows]) =>
        h(
          'tbody',
          {},
          h('tr', { class: 'group' }, h('th', { scope: 'rowgroup', colspan: columns.length + 1 }, title)),
          rows.map(([name, cells, differs]) =>
            h(
              'tr',
              { class: differs ? 'differs' : null },
              h('th', { scope: 'row' }, name, differs ? h('span', { class: 'sr-only' }, ' (differs)') : null),
              cells.map((c) => h('td', {}, c ?? '—')),
            ),
          ),
        ),
      ),
  );
}

const differ = (values) => new Set(values.map((v) => v ?? '')).size > 1;

function jobsTable(jobs) {
  const params = jobs.map((j) => flatten(j.params));
  const keys = [...new Set(params.flatMap((p) => [...p.keys()]))].sort();
  const raw = jobs.map((j) => j.report?.raw ?? null);
  // A compression report's `after`; evaluate's report is itself a measure.
  const after = raw.map((r) => r?.after ?? (typeof r?.accuracy === 'number' ? r : null));
  const before = raw.map((r) => r?.before ?? null);
  const metricNames = [...new Set(jobs.flatMap((j) => j.latestMetrics.map((m) => m.name)))].sort();
  const row = (name, values) => [name, values, differ(values.map((v) => (v instanceof Node ? v.textContent : v)))];
  return compareTable(
    'Compared jobs',
    jobs.map((j) => [h('a', { href: `#/jobs/${j.id}`, class: 'mono' }, shortId(j.id)), ` ${enumLabel(j.type)}`]),
    [
      [
        'Job',
        [
          row(
            'Type',
            jobs.map((j) => enumLabel(j.type)),
          ),
          row(
            'Status',
            jobs.map((j) => statusBadge(j.status)),
          ),
          row(
            'Key params',
            jobs.map((j) => keyParams(enumLabel(j.type), j.params) || '—'),
          ),
          row(
            'Model',
            jobs.map((j) => link('models', j.model)),
          ),
          row(
            'Teacher',
            jobs.map((j) => (j.teacherModel ? link('models', j.teacherModel) : '—')),
          ),
          row(
            'Dataset',
            jobs.map((j) => link('datasets', j.dataset)),
          ),
          row(
            'Result models',
            jobs.map((j) => String(j.results.length)),
          ),
          ['Duration', jobs.map((j) => fmtDuration(jobDuration(j)))],
        ],
      ],
      [
        'Params',
        keys.map((k) =>
          row(
            k,
            params.map((p) => p.get(k) ?? '—'),
          ),
        ),
      ],
      [
        'Results',
        [
          row('Accuracy before', before.map(acc)),
          row('Accuracy after', after.map(acc)),
          row(
            'Parameters after',
            after.map((m) => fmtInt(m?.params)),
          ),
          row(
            'Nonzero parameters after',
            after.map((m) => fmtInt(m?.nonzeroParams)),
          ),
          row(
            'Size after (raw)',
            after.map((m) => fmtBytes(m?.sizeBytes)),
          ),
          row(
            'Size after (gzip)',
            after.map((m) => fmtBytes(m?.gzipBytes)),
          ),
          row(
            'Size ratio (raw before / after)',
            jobs.map((j) => (j.report?.compressionRatio ? `×${j.report.compressionRatio.toFixed(2)}` : '—')),
          ),
          row(
            'Sparsity after',
            jobs.map((j) => fmtPct(j.report?.sparsity, 1)),
          ),
          row(
            'FLOPs after',
            after.map((m) => fmtInt(m?.flops)),
          ),
          row(
            'Latency p50, batch 1',
            after.map((m) => ms(m?.latencyMs?.batch1?.p50)),
          ),
        ].filter(([, cells]) => cells.some((c) => c !== '—')),
      ],
      [
        'Latest metrics',
        metricNames.map((n) =>
          row(
            metricLabel(n),
            jobs.map((j) => {
              const m = j.latestMetrics.find((x) => x.name === n);
              return m ? `${fmtNum(m.value)} (step ${m.step})` : '—';
            }),
          ),
        ),
      ],
    ],
  );
}

function modelsTable(models) {
  const row = (name, values) => [name, values, differ(values.map((v) => (v instanceof Node ? v.textContent : v)))];
  const after = models.map((m) => m.report?.after ?? null);
  return compareTable(
    'Compared models',
    models.map((m) => link('models', m)),
    [
      [
        'Model',
        [
          row(
            'Format',
            models.map((m) => m.format),
          ),
          row(
            'Input',
            models.map((m) => `[${m.inputShape.join(', ')}]`),
          ),
          row(
            'Output',
            models.map((m) => `[${m.outputShape.join(', ')}]`),
          ),
          row(
            'Origin',
            models.map((m) => (m.producedBy ? `${enumLabel(m.producedBy.type)} of ${m.parent?.name ?? 'a deleted model'}` : 'uploaded')),
          ),
        ],
      ],
      [
        'Figures',
        [
          row(
            'Parameters',
            models.map((m) => fmtInt(m.params)),
          ),
          row(
            'Nonzero parameters',
            after.map((a) => fmtInt(a?.nonzeroParams)),
          ),
          row(
            'Size (raw)',
            models.map((m) => fmtBytes(m.sizeBytes)),
          ),
          row(
            'Size (gzip)',
            after.map((a) => fmtBytes(a?.gzipBytes)),
          ),
          row(
            'FLOPs per example',
            models.map((m) => fmtInt(m.flops)),
          ),
          row('Accuracy (its job’s report)', after.map(acc)),
          row(
            'Latency p50, batch 1',
            after.map((a) => ms(a?.latencyMs?.batch1?.p50)),
          ),
          row(
            'Size ratio vs its parent',
            models.map((m) => (m.report?.compressionRatio ? `×${m.report.compressionRatio.toFixed(2)}` : '—')),
          ),
        ],
      ],
    ],
  );
}

export async function comparePage({ main, scope, query }) {
  const kind = query.has('models') ? 'models' : 'jobs';
  const ids = [...new Set((query.get(kind) ?? '').split(',').filter((id) => /^[\w-]+$/.test(id)))];
  const title = h('h1', {}, `Compare ${kind}`);
  const back = h('p', { class: 'crumbs' }, h('a', { href: `#/${kind}` }, kind === 'jobs' ? 'Jobs' : 'Models'), ' / compare');
  if (ids.length < MIN_COMPARE || ids.length > MAX_COMPARE) {
    fill(main, back, title, h('p', {}, `Pick ${MIN_COMPARE} to ${MAX_COMPARE} ${kind} in the list to compare them.`));
    return;
  }
  const items = await Promise.all(ids.map((id) => gql(kind === 'jobs' ? JOB : MODEL, { id }).then((d) => d.job ?? d.model)));
  if (!scope.alive) return;
  const missing = ids.filter((_, i) => !items[i]);
  fill(
    main,
    back,
    title,
    missing.length ? h('p', { class: 'error', role: 'alert' }, `Not found: ${missing.join(', ')}`) : null,
    kind === 'jobs' ? jobsTable(items.filter(Boolean)) : modelsTable(items.filter(Boolean)),
    h('p', { class: 'muted' }, 'Marked rows differ between the columns.'),
  );
}
