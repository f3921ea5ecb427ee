// Job page: status, progress, cancel/retry, inputs and results, loss/accuracy curves that grow live (jobMetrics
// subscription, polling as a fallback), the compression report, and the job's log.
import { gql, liveOrPoll } from '../api.js';
import { Scope } from '../scope.js';
import { MetricChart, metricLabel } from '../charts.js';
import {
  dl,
  enumLabel,
  errorBox,
  fill,
  FINISHED,
  fmtBytes,
  fmtDuration,
  fmtInt,
  fmtNum,
  fmtTime,
  h,
  jobDuration,
  progressBar,
  setProgress,
  shortId,
  statusBadge,
} from '../dom.js';
import { jobReportView } from '../report.js';

const STATE = `id type status priority backend attempts cancelRequested workerId params
  progress { fraction epoch step etaSeconds } createdAt startedAt finishedAt error { code message }`;
const FULL = `query Job($id: ID!) { job(id: $id) { ${STATE}
  model { id name } teacherModel { id name } dataset { id name } results { id name params sizeBytes }
  report { raw } latestMetrics { name step value } metrics { name points { step value } } } }`;
const UPDATED = `subscription Job($id: ID!) { jobUpdated(id: $id) { ${STATE} } }`;
const POLL_STATE = `query JobState($id: ID!) { job(id: $id) { ${STATE} } }`;
const METRICS = `subscription Metrics($id: ID!) { jobMetrics(id: $id, fromStep: 0) { points { name step value } } }`;
const POLL_METRICS = `query Metrics($id: ID!) { job(id: $id) { status metrics { name points { step value } } } }`;
const LOGS = `query Logs($id: ID!, $after: ID) { job(id: $id) { events(types: [LOG], after: $after, first: 200) { id time data } } }`;

const modelLink = (m) => (m ? h('a', { href: `#/models/${m.id}` }, m.name) : null);

export async function jobPage({ main, scope, params: [id] }) {
  const { job } = await gql(FULL, { id });
  if (!scope.alive) return;

  const title = h('h1', {}, `${enumLabel(job.type)} job `, h('span', { class: 'mono' }, shortId(job.id)));
  const status = h('span');
  const progress = progressBar(0, 'Job progress');
  const progressNote = h('span', { class: 'muted' });
  const message = h('div', { 'aria-live': 'polite' });
  const cancel = h('button', { type: 'button', onClick: () => act('cancelJob', 'Canceling…') }, 'Cancel job');
  const retry = h('button', { type: 'button', onClick: () => act('retryJob', 'Queuing a new attempt…') }, 'Retry job');
  const facts = h('div', { class: 'cols' });
  const results = h('div');
  const latest = h('div');
  const report = h('section', { 'aria-labelledby': 'report-h' });
  const logList = h('ol', { class: 'logs', 'aria-label': 'Log lines' });

  const lossChart = new MetricChart({ title: 'Loss', accepts: (n) => /(^|[_.])loss$/.test(n) }); // "step1_prune.loss": a pipeline step's
  const accChart = new MetricChart({ title: 'Accuracy', accepts: (n) => /(^|[_.])accuracy$/.test(n), yRange: [0, 1] });
  scope.add(() => lossChart.destroy());
  scope.add(() => accChart.destroy());
  const curves = h(
    'section',
    { 'aria-labelledby': 'curves-h' },
    h('h2', { id: 'curves-h' }, 'Training curves'),
    h('div', { class: 'charts' }, lossChart.el, accChart.el),
    latest,
  );

  fill(
    main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / ', shortId(job.id)),
    title,
    h('div', { class: 'job-head' }, status, progress, progressNote, h('div', { class: 'actions' }, cancel, retry)),
    message,
    facts,
    curves,
    results,
    report,
    h('section', { 'aria-labelledby': 'logs-h' }, h('h2', { id: 'logs-h' }, 'Log'), logList),
  );

  let current = job;
  let reportScope = null; // the report's charts, disposed when it is redrawn or the page left
  scope.add(() => reportScope?.dispose());
  const applyState = (j) => {
    current = { ...current, ...j };
    const c = current;
    fill(status, statusBadge(c.status), c.cancelRequested && !FINISHED.has(c.status) ? ' cancel requested' : '');
    setProgress(progress, c.status === 'SUCCEEDED' ? 1 : c.progress.fraction);
    const p = c.progress;
    progressNote.textContent = [
      p.epoch && `epoch ${p.epoch}`,
      p.step && `step ${p.step}`,
      !FINISHED.has(c.status) && p.etaSeconds !== null && p.etaSeconds !== undefined && `about ${fmtDuration(p.etaSeconds * 1000)} left`,
    ]
      .filter(Boolean)
      .join(' · ');
    cancel.disabled = FINISHED.has(c.status) || c.cancelRequested;
    retry.disabled = !(c.status === 'FAILED' || c.status === 'CANCELED');
    fill(
      facts,
      dl([
        ['Status', enumLabel(c.status)],
        ['Backend', c.backend],
        ['Worker', c.workerId],
        ['Attempts', String(c.attempts)],
        ['Priority', String(c.priority)],
        ['Created', fmtTime(c.createdAt)],
        ['Started', fmtTime(c.startedAt)],
        ['Finished', fmtTime(c.finishedAt)],
        ['Duration', fmtDuration(jobDuration(c))],
        c.model && ['Model', modelLink(c.model)],
        c.teacherModel && ['Teacher', modelLink(c.teacherModel)],
        c.dataset && ['Dataset', h('a', { href: `#/datasets/${c.dataset.id}` }, c.dataset.name)],
        c.error && ['Error', h('span', { class: 'error' }, `${c.error.code}: ${c.error.message}`)],
      ]),
      h(
        'div',
        {},
        h('h2', { id: 'params-h' }, 'Parameters'),
        h('pre', { class: 'json', 'aria-labelledby': 'params-h' }, JSON.stringify(c.params, null, 2)),
      ),
    );
  };

  const applyFull = (j) => {
    applyState(j);
    for (const s of j.metrics) addPoints(s.points.map((p) => ({ name: s.name, ...p })));
    fill(
      latest,
      j.latestMetrics.length
        ? h('p', { class: 'muted' }, 'Latest: ', j.latestMetrics.map((m) => `${metricLabel(m.name)} ${fmtNum(m.value)} (step ${m.step})`).join(' · '))
        : null,
    );
    fill(
      results,
      j.results.length
        ? [
            h('h2', {}, 'Result models'),
            h(
              'ul',
              {},
              j.results.map((m) => h('li', {}, modelLink(m), ` — ${fmtInt(m.params)} parameters, ${fmtBytes(m.sizeBytes)}`)),
            ),
          ]
        : null,
    );
    reportScope?.dispose();
    reportScope = new Scope();
    fill(report, jobReportView(j, reportScope));
    if (FINISHED.has(j.status)) hideEmptyCharts();
  };

  const hideEmptyCharts = () => {
    const charts = [lossChart, accChart];
    for (const c of charts) c.el.hidden = c.series.size === 0;
    curves.hidden = charts.every((c) => c.series.size === 0);
  };

  const addPoints = (pts) => {
    lossChart.add(pts);
    accChart.add(pts);
  };

  let lastLogId = null;
  let logsBusy = false;
  const loadLogs = async () => {
    if (logsBusy) return;
    logsBusy = true;
    try {
      for (let page = 0; page < 10; page++) {
        const {
          job: { events },
        } = await gql(LOGS, { id, after: lastLogId });
        if (!scope.alive) return;
        for (const e of events) {
          logList.append(
            h(
              'li',
              { class: `log-${e.data.level}` },
              h('time', { datetime: e.time }, new Date(e.time).toLocaleTimeString()),
              ` ${e.data.level} `,
              e.data.message,
            ),
          );
          lastLogId = e.id;
        }
        if (events.length < 200) break;
      }
      if (!logList.childElementCount) logList.append(h('li', { class: 'muted' }, 'No log lines yet.'));
      else logList.querySelector(':scope > li.muted')?.remove();
    } finally {
      logsBusy = false;
    }
  };

  async function act(mutation, pending) {
    fill(message, h('p', { class: 'muted' }, pending));
    try {
      const data = await gql(`mutation Act($id: ID!) { ${mutation}(id: $id) { ${STATE} } }`, { id });
      fill(message);
      // A new attempt restarts the metric series: render the page afresh.
      if (mutation === 'retryJob') window.dispatchEvent(new HashChangeEvent('hashchange'));
      else applyState(data[mutation]);
    } catch (e) {
      fill(message, errorBox(e));
    }
  }

  applyFull(job);
  await loadLogs();
  if (FINISHED.has(job.status)) return;

  // Live: state (and logs, which follow state changes), then metric points.
  const finish = async () => {
    const { job: done } = await gql(FULL, { id });
    if (!scope.alive) return;
    applyFull(done);
    await loadLogs();
  };
  let finishing = false;
  const onState = (j) => {
    applyState(j);
    loadLogs().catch(() => {});
    if (FINISHED.has(j.status) && !finishing) {
      finishing = true;
      finish().catch((e) => fill(message, errorBox(e)));
    }
  };
  scope.add(
    liveOrPoll({
      query: UPDATED,
      variables: { id },
      onData: (d) => onState(d.jobUpdated),
      poll: async () => {
        const { job: j } = await gql(POLL_STATE, { id });
        if (scope.alive) onState(j);
        return FINISHED.has(j.status);
      },
    }),
  );
  scope.add(
    liveOrPoll({
      query: METRICS,
      variables: { id },
      onData: (d) => addPoints(d.jobMetrics.points),
      poll: async () => {
        const { job: j } = await gql(POLL_METRICS, { id });
        if (scope.alive) for (const s of j.metrics) addPoints(s.points.map((p) => ({ name: s.name, ...p })));
        return FINISHED.has(j.status);
      },
    }),
  );
}
