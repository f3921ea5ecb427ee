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
};
/** "val_loss" → "validation loss"; a prefixed series (distill's "baseline_loss") keeps its prefix in words. */
export function metricLabel(name) {
  if (LABELS[name]) return LABELS[name];
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
