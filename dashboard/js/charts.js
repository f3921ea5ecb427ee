// Charts: metric curves with uPlot (served from node_modules at /assets/uplot/), and the per-layer sparsity bars
// as plain HTML (readable by screen readers as a list, no canvas needed).
import uPlot from '/assets/uplot/uPlot.esm.js';
import { fmtNum, fmtPct, h } from './dom.js';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2'];

const LABELS = {
  loss: 'train loss (per step)',
  epoch_loss: 'train loss (per epoch)',
  val_loss: 'validation loss',
  accuracy: 'train accuracy',
  val_accuracy: 'validation accuracy',
  // autocompress: one point per trial (step = trial), measured on its validation hold-out
  candidate_accuracy: 'candidate validation accuracy (step = trial)',
  candidate_cost: 'candidate objective value (step = trial)',
};
/**
 * "val_loss" → "validation loss"; a prefixed series (distill's "baseline_loss") keeps its prefix in words; a pipeline
 * step's series ("step2_prune.val_loss") is named after its step ("step 2 prune: validation loss").
 */
export function metricLabel(name) {
  if (LABELS[name]) return LABELS[name];
  const step = /^step(\d+)_([a-z]+)\.(.+)$/.exec(name);
  if (step) return `step ${step[1]} ${step[2]}: ${metricLabel(step[3])}`;
  const m = /^([a-z]+)_(.+)$/.exec(name);
  if (m && LABELS[m[2]]) return `${m[1]} ${LABELS[m[2]]}`;
  return name.replaceAll('_', ' ');
}

/**
 * A line chart of metric series by step that grows as points arrive. `accepts(name)` picks the series it shows.
 * The element's data-points attribute counts the points drawn (the end-to-end test watches it).
 */
export class MetricChart {
  constructor({ title, accepts, yRange }) {
    this.accepts = accepts;
    this.yRange = yRange;
    this.series = new Map(); // name → Map(step → value)
    this.plot = null;
    this.frame = 0;
    this.canvasBox = h('div', { class: 'chart-canvas' }, h('p', { class: 'muted' }, 'No points yet.'));
    this.summary = h('p', { class: 'chart-summary muted', 'aria-live': 'off' });
    this.el = h('figure', { class: 'chart', dataset: { points: '0' } }, h('figcaption', {}, title), this.canvasBox, this.summary);
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
  }

  /** Adds points ({ name, step, value }); ignores names it does not accept and steps it already has. */
  add(points) {
    let changed = false;
    for (const p of points) {
      if (!this.accepts(p.name)) continue;
      let s = this.series.get(p.name);
      if (!s) this.series.set(p.name, (s = new Map()));
      if (!s.has(p.step)) changed = true;
      s.set(p.step, p.value);
    }
    if (changed && !this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  size() {
    return { width: Math.max(280, this.canvasBox.clientWidth || 600), height: 260 };
  }

  render() {
    this.frame = 0;
    const names = [...this.series.keys()].sort();
    const steps = [...new Set(names.flatMap((n) => [...this.series.get(n).keys()]))].sort((a, b) => a - b);
    const data = [steps, ...names.map((n) => steps.map((s) => this.series.get(n).get(s) ?? null))];
    const total = names.reduce((sum, n) => sum + this.series.get(n).size, 0);
    this.el.dataset.points = String(total);
    this.summary.textContent = names
      .map((n) => {
        const s = this.series.get(n);
        const last = Math.max(...s.keys());
        return `${metricLabel(n)}: ${s.size} points, last ${fmtNum(s.get(last))} at step ${last}`;
      })
      .join('; ');
    const key = names.join(',');
    if (this.plot && this.plotKey === key) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.plotKey = key;
    this.canvasBox.replaceChildren();
    this.plot = new uPlot(
      {
        ...this.size(),
        scales: { x: { time: false }, ...(this.yRange ? { y: { range: this.yRange } } : {}) },
        axes: [{ label: 'step' }, {}],
        series: [
          { label: 'step' },
          ...names.map((n, i) => ({
            label: metricLabel(n),
            stroke: COLORS[i % COLORS.length],
            width: 2,
            spanGaps: true,
            dash: n.startsWith('val_') ? [6, 4] : undefined,
            points: { show: this.series.get(n).size < 60 },
          })),
        ],
      },
      data,
      this.canvasBox,
    );
    this.resize.observe(this.canvasBox);
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.plot?.destroy();
  }
}

/** Per-layer sparsity as horizontal bars (a list: one item per layer with its figures as text). */
export function sparsityBars(layers) {
  return h(
    'ul',
    { class: 'bars', 'aria-label': 'Sparsity per layer' },
    layers.map((l) => {
      const fill = h('span', { class: 'bar-fill' });
      fill.style.width = `${Math.round((l.sparsity ?? 0) * 1000) / 10}%`;
      return h(
        'li',
        { class: 'bar-row' },
        h('span', { class: 'bar-name' }, l.name),
        h('span', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
        h(
          'span',
          { class: 'bar-value' },
          `${fmtPct(l.sparsity)} zero (${(l.nonzeroParams ?? 0).toLocaleString('en-US')} of ${(l.params ?? 0).toLocaleString('en-US')} nonzero)`,
        ),
      );
    }),
  );
}

/**
 * A static x/y chart (uPlot) of a few named series, e.g. a Pareto front or a sensitivity scan. Each series:
 * { label, points: [[x, y], …], color, line (draw a line through its points), size (marker px, 0: none), dash }. Series share an
 * x scale: their points are placed on the union of their x values (one y per x and series: the highest).
 * `title` is the caption; the canvas is hidden from screen readers, so the data must sit next to it as a table.
 * data-points counts the points given (the end-to-end tests read it); extra data-* attributes come from `dataset`.
 */
export class XYChart {
  constructor({ title, xLabel, yLabel, xFormat = fmtNum, yFormat = fmtNum, yRange, series, dataset = {} }) {
    this.opts = { xLabel, yLabel, xFormat, yFormat, yRange, series };
    const total = series.reduce((n, s) => n + (s.count ?? s.points.length), 0);
    this.canvasBox = h('div', { class: 'chart-canvas', 'aria-hidden': 'true' });
    this.el = h('figure', { class: 'chart xy-chart', dataset: { points: String(total), ...dataset } }, h('figcaption', {}, title), this.canvasBox);
    this.plot = null;
    this.resize = new ResizeObserver(() => (this.plot ? this.plot.setSize(this.size()) : this.render()));
    this.resize.observe(this.canvasBox);
  }

  size() {
    return { width: Math.max(280, this.canvasBox.clientWidth || 600), height: 300 };
  }

  render() {
    if (this.plot || !this.canvasBox.isConnected) return;
    const { xLabel, yLabel, xFormat, yFormat, yRange, series } = this.opts;
    const xs = [...new Set(series.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b);
    const column = (s) => {
      const best = new Map();
      for (const [x, y] of s.points) if (!best.has(x) || y > best.get(x)) best.set(x, y);
      return xs.map((x) => best.get(x) ?? null);
    };
    this.plot = new uPlot(
      {
        ...this.size(),
        scales: { x: { time: false }, ...(yRange ? { y: { range: yRange } } : {}) },
        axes: [
          { label: xLabel, values: (_u, ticks) => ticks.map((t) => xFormat(t)) },
          { label: yLabel, values: (_u, ticks) => ticks.map((t) => yFormat(t)) },
        ],
        series: [
          { label: xLabel, value: (_u, v) => (v === null || v === undefined ? '—' : xFormat(v)) },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: s.color ?? COLORS[i % COLORS.length],
            width: s.line ? 2 : 0,
            spanGaps: true,
            dash: s.dash,
            paths: s.line ? undefined : () => null,
            points: { show: s.size !== 0, size: s.size ?? 7, fill: s.color ?? COLORS[i % COLORS.length] },
            value: (_u, v) => (v === null || v === undefined ? '—' : yFormat(v)),
          })),
        ],
      },
      [xs, ...series.map(column)],
      this.canvasBox,
    );
  }

  destroy() {
    this.resize.disconnect();
    this.plot?.destroy();
  }
}
