// The dashboard end to end in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core)
// against a live server with the built-in MNIST and a separate worker process: upload a model through the form,
// browse MNIST's sample images, watch a job's progress bar and loss chart grow live, start a prune job from the
// model page's form and read its report. Screenshots go to test-artifacts/ (gitignored).
// Runs on the embedded target only: what it checks is the browser side, the API is covered per target elsewhere.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, launchChromium, skipWithoutChromium } from '../helpers/chromium.ts';
import { HOLD_KIND_MODULE, newHoldGate, releaseHold } from '../helpers/hold-kind.ts';

// After the test-only hold kind is registered: the app's modules derive their job-type enums at import.
const { tinyModelFiles } = await import('../helpers/fixtures.ts');
const { gql } = await import('../helpers/graphql.ts');
const { startTestApp } = await import('../helpers/harness.ts');
const { spawnWorker } = await import('../helpers/workers.ts');
type TestContext = Awaited<ReturnType<typeof startTestApp>>;
type WorkerChild = ReturnType<typeof spawnWorker>;
const gate = newHoldGate();

const skip = skipWithoutChromium;

type JobPageSample = { progress: number; points: number; status: string };
const TERMINAL = ['succeeded', 'failed', 'canceled'];

// Runs in the page, as source text: tsx would wrap a named function of this file in a helper the page lacks.
const OBSERVE_JOB_PAGE = `(() => {
  const terminal = ${JSON.stringify(TERMINAL)};
  const sample = () => ({
    progress: Number(document.querySelector('.job-head [role=progressbar]')?.getAttribute('aria-valuenow') ?? -1),
    points: [...document.querySelectorAll('figure.chart')].reduce((n, f) => n + Number(f.dataset.points ?? 0), 0),
    status: document.querySelector('.job-head .badge')?.textContent ?? '',
  });
  window.jobPage?.observer.disconnect();
  const samples = [sample()];
  const observer = new MutationObserver(() => {
    samples.push(sample());
    if (terminal.includes(samples[samples.length - 1].status)) observer.disconnect();
  });
  if (!terminal.includes(samples[0].status)) observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  window.jobPage = { samples, observer };
})()`;

/**
 * The job page's progress bar and chart point counts, as every state the page rendered until the job ended: a
 * MutationObserver in the page takes a sample at each DOM update, so a short phase (an epoch of a tiny model can
 * take milliseconds) is seen however fast the job ran and however seldom this process looks. Ends with the first
 * sample that shows the job finished.
 */
async function watchJobPage(page: Page, timeoutMs: number): Promise<JobPageSample[]> {
  await page.evaluate(OBSERVE_JOB_PAGE);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const samples = await page.evaluate(() => (window as unknown as { jobPage: { samples: JobPageSample[] } }).jobPage.samples);
    const end = samples.findIndex((s) => TERMINAL.includes(s.status));
    if (end >= 0) return samples.slice(0, end + 1);
    if (Date.now() > deadline) throw new Error(`job did not finish in ${timeoutMs} ms; last sample ${JSON.stringify(samples.at(-1))}`);
    await page.waitForTimeout(100);
  }
}

describe('dashboard in headless Chromium', { skip }, () => {
  let ctx: TestContext;
  let worker: WorkerChild;
  let browser: Browser;
  let page: Page;
  let mnistId: string;
  let modelId: string;
  const pageErrors: string[] = [];

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    ctx = await startTestApp('embedded', { MODELPRESS_BUILTIN_DATASETS: 'true', MODELPRESS_QUEUE_POLL_SECONDS: '1' });
    worker = spawnWorker(ctx, { imports: [HOLD_KIND_MODULE] }); // also runs `hold` jobs (advanced by the test)
    const [mnist] = await Promise.all([ctx.runtime.services.datasets.ensureBuiltins(), worker.ready, launchChromium().then((b) => (browser = b))]);
    mnistId = mnist!.id;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(60_000); // bounds for a hang: at load ~23 a page took over 15 s to list the jobs
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(`console: ${m.text()}`));
  });

  after(async () => {
    await browser?.close();
    await worker?.kill();
    await ctx?.close();
  });

  test('the jobs page loads from / with its filters and the uPlot assets served locally', async () => {
    const res = await page.goto(`${ctx.baseUrl}/`);
    assert.equal(res?.status(), 200);
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    assert.equal(await page.getByLabel('Status').inputValue(), '');
    await page.getByLabel('Type').selectOption('prune');
    await page.waitForURL(/#\/jobs\?type=prune$/);
    assert.equal(await page.getByLabel('Type').inputValue(), 'prune');
    await page.getByText('No jobs match these filters yet.').waitFor();
    const uplot = await fetch(`${ctx.baseUrl}/assets/uplot/uPlot.esm.js`);
    assert.equal(uplot.status, 200);
    assert.match(uplot.headers.get('content-type') ?? '', /javascript/);
    // Unknown paths still get the API's problem document, not the dashboard.
    assert.equal((await fetch(`${ctx.baseUrl}/no-such-page`)).status, 404);
  });

  test('uploads a model through the form and shows its summary, downloads and compress form', async () => {
    const files = await tinyModelFiles();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-e2e-'));
    fs.writeFileSync(path.join(dir, 'model.json'), files.modelJson);
    for (const s of files.shards) fs.writeFileSync(path.join(dir, s.name), s.data);

    await page.getByRole('link', { name: 'Models', exact: true }).click();
    await page.getByRole('heading', { name: 'Upload a model' }).waitFor();
    await page.getByLabel('Name').fill('e2e-mlp');
    await page.getByLabel('Model files').setInputFiles([path.join(dir, 'model.json'), ...files.shards.map((s) => path.join(dir, s.name))]);
    await page.getByRole('button', { name: 'Upload model' }).click();
    await page.waitForURL(/#\/models\/[\w-]+$/);
    modelId = page.url().split('/').pop()!;
    fs.rmSync(dir, { recursive: true, force: true });

    await page.getByRole('heading', { name: 'e2e-mlp', level: 1 }).waitFor();
    const summary = page.getByRole('region', { name: 'Summary' });
    assert.match(await summary.innerText(), /Parameters\s+12,730/); // 784·16+16 + 16·10+10
    assert.match(await page.getByRole('region', { name: 'Lineage' }).innerText(), /Uploaded/);
    const download = page.getByRole('link', { name: 'model.json' });
    const json = await (await fetch(new URL((await download.getAttribute('href'))!, ctx.baseUrl))).json();
    assert.equal(json.format, 'layers-model');
    assert.equal(await page.getByRole('table', { name: 'Layers' }).locator('tbody tr').count(), 2);
    assert.equal(await page.getByLabel('Dataset').inputValue(), mnistId, 'MNIST fits the 784-input model and is preselected');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-model.png'), fullPage: true });
  });

  test('uploads a CSV dataset through the form and shows its summary (no image grid for tabular data)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-e2e-'));
    const rows = Array.from({ length: 30 }, (_, i) => `${(i % 7) / 7},${(i % 5) / 5},${i % 3 === 0 ? 'small' : 'large'}`);
    fs.writeFileSync(path.join(dir, 'points.csv'), ['x,y,label', ...rows].join('\n'));
    await page.getByRole('link', { name: 'Datasets', exact: true }).click();
    await page.getByLabel('Name').fill('e2e-points');
    await page.getByLabel('Format').selectOption('csv');
    await page.getByLabel('Dataset files').setInputFiles(path.join(dir, 'points.csv'));
    await page.getByRole('button', { name: 'Upload dataset' }).click();
    await page.waitForURL(/#\/datasets\/[\w-]+$/);
    fs.rmSync(dir, { recursive: true, force: true });
    await page.getByRole('heading', { name: 'e2e-points', level: 1 }).waitFor();
    const summary = await page.getByRole('region', { name: 'Summary' }).innerText();
    assert.match(summary, /Examples\s+30/);
    assert.match(summary, /Example shape\s+\[2\]/);
    assert.match(await page.getByRole('region', { name: 'Classes (2)' }).innerText(), /large[\s\S]*small|small[\s\S]*large/);
    assert.equal(await page.getByRole('heading', { name: 'Sample training images' }).count(), 0);
  });

  test('the MNIST page draws its first training images from train-x.npy with their labels', async () => {
    await page.goto(`${ctx.baseUrl}/#/datasets/${mnistId}`);
    const samples = page.getByRole('list', { name: 'First 48 training images' });
    await samples.getByRole('img').nth(47).waitFor();
    // The first MNIST training labels are 5 0 4 1 9 2 1 3 1 4.
    assert.deepEqual((await samples.locator('figcaption').allInnerTexts()).slice(0, 10), ['5', '0', '4', '1', '9', '2', '1', '3', '1', '4']);
    const inked = await samples
      .locator('canvas')
      .first()
      .evaluate((c: HTMLCanvasElement) => {
        const { data } = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
        let lit = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] > 128) lit++;
        return { lit, w: c.width, h: c.height };
      });
    assert.deepEqual([inked.w, inked.h], [28, 28]);
    assert.ok(inked.lit > 50 && inked.lit < 400, `a digit's worth of bright pixels: ${inked.lit}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-dataset.png'), fullPage: true });
  });

  test('a running job: the progress bar and the loss chart follow each step live, to 100%', async () => {
    // A `hold` job advances one step each time the test releases it, so every intermediate state reaches the page
    // whenever it subscribed (a short timed job could end before the page subscribed).
    const id = (
      await ctx.http
        .post('/v1/jobs')
        .send({ type: 'hold', params: { steps: 4, gate } })
        .expect(201)
    ).body.id as string;
    await page.goto(`${ctx.baseUrl}/#/jobs/${id}`);
    await page.locator('.job-head .badge', { hasText: 'running' }).waitFor({ timeout: 30_000 });
    for (let step = 1; step <= 4; step++) {
      releaseHold(gate, id, step);
      await page.waitForFunction(
        (want) =>
          document.querySelector('.job-head [role=progressbar]')?.getAttribute('aria-valuenow') === String(want.step * 25) &&
          (document.querySelector<HTMLElement>('figure.chart')?.dataset.points ?? '0') === String(want.step),
        { step },
      );
    }
    await page.locator('.job-head .badge', { hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
    await page.getByRole('list', { name: 'Log lines' }).getByText('hold released 4 steps').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel job' }).isDisabled(), true);
  });

  test('without WebSockets the job page falls back to polling and still follows the job to the end', async () => {
    const context = await browser.newContext();
    // A WebSocket that never connects, like behind a proxy that drops upgrades.
    await context.addInitScript(() => {
      window.WebSocket = class extends EventTarget {
        static OPEN = 1;
        readyState = 3;
        constructor() {
          super();
          setTimeout(() => this.dispatchEvent(new Event('close')), 10);
        }
        send() {}
        close() {}
      } as unknown as typeof WebSocket;
    });
    try {
      const noWs = await context.newPage();
      noWs.on('pageerror', (e) => pageErrors.push(`pageerror (no WebSocket): ${e.message}`));
      // A `hold` job, released once the page follows it: a timed job could end before a slow page loaded, and the
      // page of a finished job has nothing to follow (no polling indicator).
      const id = (
        await ctx.http
          .post('/v1/jobs')
          .send({ type: 'hold', params: { steps: 3, gate } })
          .expect(201)
      ).body.id as string;
      await noWs.goto(`${ctx.baseUrl}/#/jobs/${id}`);
      await noWs.locator('#live', { hasText: '○ polling' }).waitFor();
      releaseHold(gate, id);
      const samples = await watchJobPage(noWs, 600_000);
      assert.equal(samples.at(-1)!.status, 'succeeded');
      assert.equal(await noWs.locator('#live').innerText(), '○ polling');
      await noWs.waitForFunction(() => document.querySelector<HTMLElement>('figure.chart')?.dataset.points === '3');
    } finally {
      await context.close();
    }
  });

  test('cancel and retry from the job page', async () => {
    const created = await gql(ctx)(`mutation { createJob(input: { type: NOOP, params: { steps: 200, durationMs: 60000 } }) { id } }`);
    await page.goto(`${ctx.baseUrl}/#/jobs/${created.body.data.createJob.id}`);
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.locator('.job-head .badge', { hasText: 'canceled' }).waitFor({ timeout: 30_000 });
    const retry = page.getByRole('button', { name: 'Retry job' });
    assert.equal(await retry.isEnabled(), true);
    await retry.click();
    await page.locator('.job-head .badge', { hasText: /queued|running/ }).waitFor();
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.locator('.job-head .badge', { hasText: 'canceled' }).waitFor({ timeout: 30_000 });
  });

  test('prune from the model page: live progress and curves, then the before/after report', async () => {
    await page.goto(`${ctx.baseUrl}/#/models/${modelId}`);
    const form = page.getByRole('form', { name: 'Compress this model' });
    await form.getByLabel('Prune:').check();
    await form.getByLabel('Dataset').selectOption(mnistId);
    await form.getByLabel('Use only the first N examples').fill('1024');
    await form.getByLabel('Target sparsity').fill('0.75');
    await form.getByLabel('Fine-tuning epochs').fill('2');
    await form.getByLabel('Fine-tuning batch size').fill('16');
    await form.getByLabel('Fine-tuning learning rate').fill('0.001');
    await form.getByRole('button', { name: 'Start compression job' }).click();
    await page.waitForURL(/#\/jobs\/[\w-]+$/);

    const samples = await watchJobPage(page, 600_000); // a bound for a hang: at load ~23 this job took over 2 min
    assert.equal(samples.at(-1)!.status, 'succeeded', await page.locator('.facts').innerText());
    await page.waitForFunction(() => document.querySelector('.job-head [role=progressbar]')?.getAttribute('aria-valuenow') === '100');
    assert.ok(
      samples.some((s) => s.progress > 0 && s.progress < 100),
      `progress seen mid-run: ${JSON.stringify([...new Set(samples.map((s) => s.progress))])}`,
    );
    const finalPoints = samples.at(-1)!.points;
    assert.ok(
      samples.some((s) => s.points > 0 && s.points < finalPoints),
      `the charts gained points while it ran: ${JSON.stringify([...new Set(samples.map((s) => s.points))])}`,
    );

    const report = page.getByRole('table', { name: 'Compression report: before and after' });
    await report.waitFor();
    const row = async (name: string) =>
      (await report.getByRole('row', { name: new RegExp(`^${name}`) }).innerText()).split('\t').map((s) => s.trim());
    assert.deepEqual((await row('Parameters')).slice(1, 3), ['12,730', '12,730']);
    const [, before, afterNz] = (await row('Nonzero parameters')).map((s) => Number(s.replaceAll(',', '')));
    assert.ok(before > 12_000 && before <= 12_730, `nonzeros before (zero biases aside): ${before}`);
    assert.ok(afterNz < before * 0.5, `nonzeros after pruning: ${afterNz}`);
    assert.match((await row('Accuracy'))[2], /%$/);
    const bars = page.getByRole('list', { name: 'Sparsity per layer' }).getByRole('listitem');
    assert.ok((await bars.count()) >= 1);
    assert.match(await bars.first().innerText(), /7\d\.\d% zero/);
    await page.getByRole('link', { name: 'e2e-mlp-pruned' }).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-job-prune.png'), fullPage: true });

    // The result model's lineage names the job and the parent.
    await page.getByRole('link', { name: 'e2e-mlp-pruned' }).click();
    assert.match(await page.getByRole('region', { name: 'Lineage' }).innerText(), /Made by prune job \w+ from e2e-mlp on mnist/);
  });

  test('the jobs table shows every job with status, type, progress and backend, and follows a new job live', async () => {
    await page.goto(`${ctx.baseUrl}/#/jobs`);
    const table = page.getByRole('table', { name: 'Jobs' });
    await table.locator('tbody tr').first().waitFor();
    // A `hold` job, advanced by the test: the row must show it half done while it waits for its second step (a
    // timed 10 s noop had to be sampled mid-run, and made the test wait out its 10 s).
    const id = (
      await ctx.http
        .post('/v1/jobs')
        .send({ type: 'hold', params: { steps: 2, gate } })
        .expect(201)
    ).body.id as string;
    const row = table.locator(`tbody tr[data-job-id="${id}"]`);
    await row.waitFor(); // the list refreshes every few seconds
    const progressIs = (want: string) =>
      page.waitForFunction(
        (w) => document.querySelector(`tr[data-job-id="${w.id}"] [role=progressbar]`)?.getAttribute('aria-valuenow') === w.want,
        { id, want },
        { polling: 50, timeout: 120_000 }, // a bound for a hang
      );
    releaseHold(gate, id, 1);
    await progressIs('50'); // the row's progress moved live, mid-run
    await row.locator('.badge', { hasText: 'running' }).waitFor();
    releaseHold(gate, id);
    await progressIs('100');
    await row.locator('.badge', { hasText: 'succeeded' }).waitFor();

    const rows = await table.locator('tbody tr').count();
    assert.equal(rows, 5);
    const succeeded = table.locator('tbody tr', { has: page.locator('.badge', { hasText: 'succeeded' }) });
    assert.equal(await succeeded.count(), 4);
    assert.equal(await succeeded.first().getByRole('progressbar').getAttribute('aria-valuenow'), '100');
    assert.match(await succeeded.first().innerText(), /wasm|cpu|webgpu/);
    await page.getByLabel('Status').selectOption('canceled');
    await table.locator('tbody tr').first().waitFor();
    await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 1);
    await page.getByLabel('Status').selectOption('');
    await page.waitForFunction((n) => document.querySelectorAll('table.jobs tbody tr').length === n, rows);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-jobs.png'), fullPage: true });
  });

  test('no script errors on any page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
