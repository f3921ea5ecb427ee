// Sensitivity report (issue 16): accuracy per layer × sparsity, as a chart (one line per layer, the unpruned
// baseline dashed) and as a table, with the per-layer allocation when the job computed one. Reads report.scan
// ({ baseline, sparsities, layers: [{ name, params, accuracy[] }] }); without it (a job still running, an older
// report) the scan is rebuilt from the metrics `sensitivity.<layer>` (step = sparsity in per mille).
import { XYChart } from '../charts.js';
import { dl, fmtInt, fmtPct, h } from '../dom.js';

export const isSensitivity = (raw) => Boolean(raw?.scan && Array.isArray(raw.scan.layers) && Array.isArray(raw.scan.sparsities));

/** A scan from metric series named `[prefix]sensitivity.<layer>`; null when there are none. */
export function scanFromMetrics(metrics) {
  const series = (metrics ?? []).map((s) => [/(?:^|\.)sensitivity\.(.+)$/.exec(s.name)?.[1], s.points]).filter(([name]) => name);
  if (!series.length) return null;
  const steps = [...new Set(series.flatMap(([, pts]) => pts.map((p) => p.step)))].filter((s) => s > 0).sort((a, b) => a - b);
  const baseline = series[0][1].find((p) => p.step === 0)?.value ?? null;
  return {
    baseline,
    sparsities: steps.map((s) => s / 1000),
    layers: series.map(([name, pts]) => ({ name, params: null, accuracy: steps.map((s) => pts.find((p) => p.step === s)?.value ?? null) })),
  };
}

export function sensitivityView(scan, { scope, allocation = null, split = null, examples = null }) {
  const chart = new XYChart({
    title: `Accuracy per layer when only that layer is pruned${split ? ` (${split} split)` : ''}`,
    xLabel: 'sparsity of the layer',
    yLabel: 'accuracy',
    xFormat: (x) => fmtPct(x, 0),
    yFormat: (y) => fmtPct(y, 1),
    series: [
      ...scan.layers.map((l) => ({
        label: l.name,
        line: true,
        points: [
          ...(scan.baseline === null ? [] : [[0, scan.baseline]]),
          ...scan.sparsities.map((s, i) => [s, l.accuracy[i]]).filter(([, a]) => a !== null),
        ],
      })),
      ...(scan.baseline === null
        ? []
        : [
            {
              label: 'unpruned',
              points: [0, ...scan.sparsities].map((s) => [s, scan.baseline]),
              color: '#64748b',
              line: true,
              size: 0,
              dash: [6, 4],
              count: 0,
            },
          ]),
    ],
    dataset: { chart: 'sensitivity', layers: String(scan.layers.length) },
  });
  scope.add(() => chart.destroy());
  const table = h(
    'table',
    { class: 'report sensitivity', 'aria-label': 'Accuracy per layer and sparsity' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Layer'),
        h('th', { scope: 'col', class: 'num' }, 'Weights'),
        scan.sparsities.map((s) => h('th', { scope: 'col', class: 'num' }, `${fmtPct(s, 0)} sparse`)),
        allocation ? h('th', { scope: 'col', class: 'num' }, 'Allocated sparsity') : null,
      ),
    ),
    h(
      'tbody',
      {},
      scan.layers.map((l) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, l.name),
          h('td', { class: 'num' }, fmtInt(l.params)),
          l.accuracy.map((a) => h('td', { class: 'num' }, fmtPct(a, 2))),
          allocation ? h('td', { class: 'num' }, fmtPct(allocation.sparsities?.[l.name], 1)) : null,
        ),
      ),
    ),
  );
  return h(
    'div',
    { class: 'sensitivity-view' },
    dl([
      ['Unpruned accuracy', `${fmtPct(scan.baseline, 2)}${split ? ` (${split} split${examples ? `, ${fmtInt(examples)} examples` : ''})` : ''}`],
      allocation && [
        'Allocation',
        `${fmtPct(allocation.overall, 1)} overall, each layer within a ${(allocation.tolerance * 100).toFixed(2)} pt drop`,
      ],
    ]),
    chart.el,
    table,
  );
}
