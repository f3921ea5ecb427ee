// Autocompress report (issue 16): the Pareto chart — validation accuracy vs the objective (gzip size, batch-1 latency
// or FLOPs) of every candidate, the front drawn as a line and the chosen candidate highlighted — and the front as a
// table with a link to each candidate model. Reads report.{frontier, chosen, candidates, search}.
import { XYChart } from '../charts.js';
import { dl, fmtBytes, fmtInt, fmtPct, h } from '../dom.js';

const ms = (x) => (x === null || x === undefined ? '—' : `${x < 1 ? x.toFixed(3) : x.toFixed(2)} ms`);

/** What each objective plots on x (smaller is better), as the job's `objective` param names it. */
export const OBJECTIVES = {
  size: { label: 'gzip size', get: (c) => c.gzipBytes, fmt: fmtBytes },
  latency: { label: 'latency p50, batch 1', get: (c) => c.latencyMs?.batch1?.p50, fmt: ms },
  flops: { label: 'FLOPs per example', get: (c) => c.flops, fmt: fmtInt },
};

const describeSteps = (steps) => (Array.isArray(steps) && steps.length ? steps.map((s) => `${s.method} ${s.level}`).join(' + ') : 'original model');

export const isAutocompress = (raw) => Boolean(raw && Array.isArray(raw.frontier) && raw.chosen);

/** `job`: { params, model, results } for names and links; `scope` disposes the chart. */
export function autocompressView(raw, { job, scope }) {
  const objective = raw.search?.objective ?? job.params?.objective ?? 'size';
  const obj = OBJECTIVES[objective] ?? OBJECTIVES.size;
  const names = new Map([...(job.model ? [[job.model.id, job.model.name]] : []), ...(job.results ?? []).map((m) => [m.id, m.name])]);
  const candidates = Array.isArray(raw.candidates) ? raw.candidates : raw.frontier;
  const point = (c) => [obj.get(c), c.accuracy];
  const plotted = (list) => list.filter((c) => typeof obj.get(c) === 'number' && typeof c.accuracy === 'number');
  const frontier = plotted(raw.frontier).sort((a, b) => obj.get(a) - obj.get(b));
  const maxDrop = raw.search?.maxAccuracyDrop ?? job.params?.maxAccuracyDrop;
  const baseline = raw.search?.validationAccuracy;
  const floor = typeof baseline === 'number' && typeof maxDrop === 'number' ? baseline - maxDrop / 100 : null;

  const chart = new XYChart({
    title: `Pareto front: validation accuracy vs ${obj.label} (${candidates.length} candidates, chosen in red)`,
    xLabel: obj.label,
    yLabel: 'validation accuracy',
    xFormat: obj.fmt,
    yFormat: (y) => fmtPct(y, 1),
    series: [
      { label: 'candidates', points: plotted(candidates).map(point), color: '#94a3b8', size: 7 },
      { label: 'Pareto front', points: frontier.map(point), color: '#2563eb', line: true, size: 9 },
      { label: 'chosen', points: plotted([raw.chosen]).map(point), color: '#dc2626', size: 16 },
      ...(floor === null
        ? []
        : [
            {
              label: `accuracy floor (−${maxDrop} pt)`,
              points: plotted(candidates).map((c) => [obj.get(c), floor]),
              color: '#ea580c',
              line: true,
              size: 0,
              dash: [6, 4],
              count: 0,
            },
          ]),
    ],
    dataset: { chart: 'pareto', chosen: raw.chosen.modelId, frontier: String(frontier.length) },
  });
  scope.add(() => chart.destroy());

  const modelLink = (id) => h('a', { href: `#/models/${id}` }, names.get(id) ?? id.slice(0, 8));
  const onFront = new Set(frontier.map((c) => c.modelId));
  /** One row per candidate; `all` adds the trial and whether it is on the front / within the drop. */
  const candidateTable = (label, list, all) =>
    h(
      'table',
      { class: 'report frontier', 'aria-label': label },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [
            ...(all ? ['Trial'] : []),
            'Candidate',
            'How it was made',
            'Validation accuracy',
            `${obj.label} (objective)`,
            'Nonzero parameters',
            'Size (gzip)',
            'FLOPs',
            'Latency p50, batch 1',
            ...(all ? ['Within the drop', 'On the front'] : []),
            'Chosen',
          ].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        list.map((c) => {
          const chosen = c.modelId === raw.chosen.modelId;
          return h(
            'tr',
            { class: chosen ? 'chosen' : null, 'aria-current': chosen ? 'true' : null, dataset: { modelId: c.modelId } },
            all ? h('td', { class: 'num' }, String(c.trial ?? '—')) : null,
            h('th', { scope: 'row' }, modelLink(c.modelId)),
            h('td', {}, describeSteps(c.steps)),
            h('td', { class: 'num' }, fmtPct(c.accuracy, 2)),
            h('td', { class: 'num' }, obj.fmt(obj.get(c))),
            h('td', { class: 'num' }, fmtInt(c.nonzeroParams)),
            h('td', { class: 'num' }, fmtBytes(c.gzipBytes)),
            h('td', { class: 'num' }, fmtInt(c.flops)),
            h('td', { class: 'num' }, ms(c.latencyMs?.batch1?.p50)),
            all ? h('td', {}, c.accepted === undefined ? '—' : c.accepted ? 'yes' : 'no') : null,
            all ? h('td', {}, onFront.has(c.modelId) ? 'yes' : 'no') : null,
            h('td', {}, chosen ? h('span', { class: 'badge chosen-badge' }, 'chosen') : ''),
          );
        }),
      ),
    );
  const table = candidateTable('Pareto front candidates', frontier, false);
  // Every candidate the search kept (the chart's grey points), for screen readers and for the ones off the front.
  const allTable = Array.isArray(raw.candidates)
    ? h(
        'details',
        { class: 'all-candidates' },
        h('summary', {}, `All candidates (${raw.candidates.length})`),
        candidateTable('All candidates', raw.candidates, true),
      )
    : null;

  const s = raw.search ?? {};
  return h(
    'div',
    { class: 'autocompress-view' },
    dl([
      ['Objective', `${objective} (${obj.label}, smaller is better)`],
      typeof maxDrop === 'number' && ['Accepted accuracy drop', `≤ ${maxDrop} pt on the validation hold-out`],
      s.trials && ['Trials', `${s.trials.run} of ${s.trials.budget}`],
      typeof baseline === 'number' && ['Original, validation', `${fmtPct(baseline, 2)} on ${fmtInt(s.validationExamples)} examples`],
      ['Chosen', [modelLink(raw.chosen.modelId), ` — ${describeSteps(raw.chosen.steps)}`]],
    ]),
    chart.el,
    h('h3', { id: 'frontier-h' }, 'Pareto front'),
    h(
      'p',
      { class: 'muted' },
      'Validation figures of each candidate on the front (cheapest first); the test-split figures of the chosen model are in the report below.',
    ),
    table,
    allTable,
  );
}
