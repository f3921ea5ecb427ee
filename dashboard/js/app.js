// Hash router: #/jobs, #/jobs/:id, #/models, #/models/:id, #/datasets, #/datasets/:id, #/compare?jobs=a,b. Each page renders into
// <main> and registers its cleanups (subscriptions, timers) on a Scope that is disposed on navigation.
import { onLiveState } from './api.js';
import { Scope } from './scope.js';
import { errorBox, fill, h } from './dom.js';
import { comparePage } from './pages/compare.js';
import { datasetPage } from './pages/dataset.js';
import { datasetsPage } from './pages/datasets.js';
import { jobPage } from './pages/job.js';
import { jobsPage } from './pages/jobs.js';
import { modelPage } from './pages/model.js';
import { modelsPage } from './pages/models.js';

const ROUTES = [
  [/^\/?$/, () => jobsPage],
  [/^\/jobs$/, () => jobsPage],
  [/^\/jobs\/([\w-]+)$/, () => jobPage],
  [/^\/models$/, () => modelsPage],
  [/^\/models\/([\w-]+)$/, () => modelPage],
  [/^\/datasets$/, () => datasetsPage],
  [/^\/datasets\/([\w-]+)$/, () => datasetPage],
  [/^\/compare$/, () => comparePage],
];

const main = document.getElementById('main');
let scope = null;

async function route() {
  scope?.dispose();
  scope = new Scope();
  const current = scope;
  const [path, search = ''] = location.hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(search);
  const match = ROUTES.map(([re, page]) => [re.exec(path), page]).find(([m]) => m);
  const section = path.split('/')[1] || 'jobs';
  for (const a of document.querySelectorAll('[data-nav]')) a.toggleAttribute('aria-current', a.dataset.nav === section);
  if (!match) {
    fill(main, h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('code', {}, location.hash), '. ', h('a', { href: '#/jobs' }, 'Go to the jobs')));
    return;
  }
  const [m, page] = match;
  try {
    await page()({ main, scope: current, params: m.slice(1), query });
  } catch (e) {
    if (current.alive) fill(main, h('h1', {}, 'Something went wrong'), errorBox(e));
  }
}

const live = document.getElementById('live');
onLiveState((state) => {
  live.textContent = state === 'live' ? '● live' : state === 'polling' ? '○ polling' : '';
  live.title = state === 'live' ? 'Updates arrive over a WebSocket subscription' : 'The WebSocket is unavailable: refreshing by polling';
});

window.addEventListener('hashchange', route);
route();
