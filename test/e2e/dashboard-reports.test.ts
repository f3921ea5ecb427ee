// The dashboard's report views (issue 16) in headless Chromium, on real jobs of a tiny 784-16-10 MLP on a slice of
// the built-in MNIST: an autocompress job's Pareto chart (chosen point marked) and front table linking each candidate,
// a sensitivity job's layer × sparsity chart and table, a pipeline's original → final table, distill's teacher /
// baseline / student, the jobs table's key params and headline result (uint8 vs float16 quantize), and the compare
// view for jobs and models. Jobs are created over REST up front and run by an in-process worker while the browser
// starts; every wait is on a selector or a job state. Embedded target only (the API is covered per target elsewhere).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, launchChromium, skipWithoutChromium } from '../helpers/chromium.ts';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { startTestApp } from '../helpers/harness.ts';
import { waitForAll, type JobJson } from '../helpers/jobs.ts';

type TestContext = Awaited<ReturnType<typeof startTestApp>>;

const skip = skipWithoutChromium;

type Job = JobJson & { type: string; resultModelIds: string[]; report: Record<string, unknown> };

interface Entry {
  modelId: string;
  accuracy: number;
}

describe('dashboard report views in headless Chromium', { skip }, () => {
  let ctx: TestContext;
  let browser: Browser;
  let page: Page;
  let modelId: string;
  const jobs: Record<'uint8' | 'float16' | 'evaluate' | 'sensitivity' | 'autocompress' | 'pipeline' | 'distill', Job> = {} as never;
  const pageErrors: string[] = [];

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    ctx = await startTestApp('embedded', { MODELPRESS_BUILTIN_DATASETS: 'true' }, { worker: { concurrency: 1 } });
    const browserReady = launchChromium().then((b) => (browser = b));
    const mnistId = (await ctx.runtime.services.datasets.ensureBuiltins())!.id;
    const files = await tinyModelFiles();
    let req = ctx.http.post('/v1/models').field('name', 'tiny');
    req = req.attach('files', files.modelJson, 'model.json');
    for (const s of files.shards) req = req.attach('files', s.data, s.name);
    modelId = (await req.expect(201)).body.id;

    const specs = {
      uint8: { type: 'quantize', modelId, datasetId: mnistId, params: { dtype: 'uint8', limit: 300 } },
      float16: { type: 'quantize', modelId, datasetId: mnistId, params: { dtype: 'float16', limit: 300 } },
      evaluate: { type: 'evaluate', modelId, datasetId: mnistId, params: { limit: 300 } },
      sensitivity: { type: 'sensitivity', modelId, datasetId: mnistId, params: { sparsities: [0.5, 0.9], limit: 300 } },
      autocompress: {
        type: 'autocompress',
        modelId,
        datasetId: mnistId,
        params: { maxAccuracyDrop: 2, objective: 'size', budget: { trials: 2 }, limit: 600, validationLimit: 200, fineTuneEpochs: 1, batchSize: 64 },
      },
      pipeline: {
        type: 'pipeline',
        modelId,
        datasetId: mnistId,
        params: {
          steps: [
            { type: 'prune', params: { sparsity: 0.5, fineTuneEpochs: 1, limit: 300, batchSize: 64 } },
            { type: 'quantize', params: { dtype: 'uint8', limit: 300 } },
          ],
        },
      },
      distill: {
        type: 'distill',
        teacherModelId: modelId,
        datasetId: mnistId,
        params: { student: { widthMultiplier: 0.5 }, epochs: 1, limit: 300, batchSize: 64, baseline: true },
      },
    };
    const ids: string[] = [];
    for (const [key, body] of Object.entries(specs)) {
      const created = (await ctx.http.post('/v1/jobs').send(body).expect(201)).body as Job;
      jobs[key as keyof typeof jobs] = created;
      ids.push(created.id);
    }
    const done = await waitForAll(ctx, ids, 600_000);
    for (const j of done) {
      assert.equal(j.status, 'succeeded', `${j.id}: ${JSON.stringify(j.error)}`);
      const key = (Object.keys(jobs) as (keyof typeof jobs)[]).find((k) => jobs[k].id === j.id)!;
      jobs[key] = j as Job;
    }
    await browserReady;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(`console: ${m.text()}`));
  });

  after(async () => {
    await browser?.close();
    await ctx?.close();
  });

  test('autocompress: the Pareto chart marks the chosen candidate; the front table links every candidate model', async () => {
    const job = jobs.autocompress;
    const report = job.report as unknown as { frontier: Entry[]; chosen: Entry; candidates: Entry[] };
    await page.goto(`${ctx.baseUrl}/#/jobs/${job.id}`);
    await page.getByRole('heading', { name: 'Autocompress: Pareto front' }).waitFor();
    const chart = page.locator('figure[data-chart=pareto]');
    await chart.locator('canvas').first().waitFor(); // uPlot drew it
    assert.equal(await chart.getAttribute('data-chosen'), report.chosen.modelId);
    assert.equal(await chart.getAttribute('data-frontier'), String(report.frontier.length));
    // Every candidate, the front once more and the chosen point: 1 original + 2 trials.
    assert.equal(await chart.getAttribute('data-points'), String(report.candidates.length + report.frontier.length + 1));
    assert.equal(report.candidates.length, 3);
    assert.match(await chart.locator('figcaption').innerText(), /validation accuracy vs gzip size/);

    const table = page.getByRole('table', { name: 'Pareto front candidates' });
    const rows = table.locator('tbody tr');
    assert.equal(await rows.count(), report.frontier.length);
    for (const [i, e] of report.frontier.entries()) {
      assert.equal(await rows.nth(i).getAttribute('data-model-id'), e.modelId);
      assert.equal(await rows.nth(i).getByRole('link').getAttribute('href'), `#/models/${e.modelId}`);
    }
    const chosen = table.locator('tbody tr[aria-current=true]');
    assert.equal(await chosen.count(), 1);
    assert.equal(await chosen.getAttribute('data-model-id'), job.resultModelIds[0]);
    assert.match(await chosen.innerText(), /chosen/);
    // Every candidate (the chart's grey points) in a table too, the original as trial 0.
    await page.getByText(`All candidates (${report.candidates.length})`).click();
    const all = page.getByRole('table', { name: 'All candidates' });
    assert.deepEqual(await all.locator('tbody tr td:first-child').allInnerTexts(), ['0', '1', '2']);
    assert.equal(await all.locator('tbody tr[aria-current=true]').getAttribute('data-model-id'), job.resultModelIds[0]);
    // The test-split before/after of the chosen model stays below it.
    await page.getByRole('table', { name: 'Compression report: before and after' }).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-autocompress.png'), fullPage: true });
  });

  test('sensitivity: accuracy per layer × sparsity as a chart and a table', async () => {
    await page.goto(`${ctx.baseUrl}/#/jobs/${jobs.sensitivity.id}`);
    await page.getByRole('heading', { name: 'Sensitivity: accuracy per layer × sparsity' }).waitFor();
    const chart = page.locator('figure[data-chart=sensitivity]');
    await chart.locator('canvas').first().waitFor();
    assert.equal(await chart.getAttribute('data-layers'), '2');
    assert.equal(await chart.getAttribute('data-points'), '6', '2 layers × (unpruned + 2 sparsities)');
    const table = page.getByRole('table', { name: 'Accuracy per layer and sparsity' });
    assert.deepEqual(await table.locator('thead th').allInnerTexts(), ['Layer', 'Weights', '50% sparse', '90% sparse']);
    assert.equal(await table.locator('tbody tr').count(), 2);
    for (const cell of await table.locator('tbody td.num').allInnerTexts()) assert.match(cell, /^[\d,]+$|^\d+\.\d\d%$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-sensitivity.png'), fullPage: true });
  });

  test('pipeline: original → final, then each step with its model', async () => {
    await page.goto(`${ctx.baseUrl}/#/jobs/${jobs.pipeline.id}`);
    const table = page.getByRole('table', { name: 'Pipeline: original to final, step by step' });
    await table.waitFor();
    const heads = await table.locator('tbody th[scope=row]').allInnerTexts();
    assert.deepEqual(heads, ['original', '1. prune', '2. quantize']);
    const links = await table.locator('tbody a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.deepEqual(links, [`#/models/${modelId}`, ...jobs.pipeline.resultModelIds.map((id) => `#/models/${id}`)]);
    const facts = await page.locator('.pipeline-view dl.facts').innerText();
    assert.match(facts, /Original → final\s+tiny → tiny-pruned/);
    assert.match(facts, /Smaller \(fp32 raw → final gzip\)\s+×\d/);
    assert.equal(await page.locator('details.step-report').count(), 2);
    // The steps' training curves are drawn, named after their step.
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('figure.chart')?.dataset.points ?? 0) > 0);
    assert.match(await page.locator('figure.chart .chart-summary').first().innerText(), /step 1 prune: train loss/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-pipeline.png'), fullPage: true });
  });

  test('distill: teacher, hard-label baseline and student side by side', async () => {
    await page.goto(`${ctx.baseUrl}/#/jobs/${jobs.distill.id}`);
    const table = page.getByRole('table', { name: 'Teacher, baseline and student' });
    await table.waitFor();
    assert.deepEqual(await table.locator('thead th').allInnerTexts(), ['Figure', 'Teacher', 'Hard-label baseline', 'Distilled student']);
    const accuracy = (await table.getByRole('row', { name: /^Accuracy/ }).innerText()).split('\t').map((s) => s.trim());
    assert.match(accuracy[0], /Accuracy \(test split\)/);
    for (const a of accuracy.slice(1)) assert.match(a, /^\d+\.\d\d%$/);
    const params = (await table.getByRole('row', { name: /^Parameters/ }).innerText()).split('\t').map((s) => s.trim());
    assert.equal(params[1], '12,730');
    assert.equal(params[2], params[3], 'the baseline is the same student');
    // A random-init teacher may trail its baseline: then there is no gap to close, and the page says so.
    assert.match(
      await page.locator('.distill-view p.gap').innerText(),
      /(closed -?\d+% of the gap between the hard-label baseline and the teacher|no gap for distillation to close)\. The distilled student is [+−]\d+\.\d\d pt against the baseline\.$/,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-distill.png'), fullPage: true });
  });

  test('the jobs table tells a uint8 from a float16 quantize by key params and result; two rows open the compare view', async () => {
    await page.goto(`${ctx.baseUrl}/#/jobs`);
    const table = page.getByRole('table', { name: 'Jobs' });
    const row = (id: string) => table.locator(`tbody tr[data-job-id="${id}"]`);
    await row(jobs.uint8.id).waitFor();
    const cells = async (id: string) => {
      const r = row(id);
      return { params: await r.locator('td.params').innerText(), result: await r.locator('td.headline').innerText() };
    };
    // Job.headline over GraphQL is what the Result column shows.
    const gq = await ctx.http
      .post('/graphql')
      .send({ query: `{ job(id: "${jobs.uint8.id}") { headline { accuracy split accuracyChangePp sizeRatio gzipRatio } } }` })
      .expect(200);
    const report = jobs.uint8.report as {
      before: { sizeBytes: number; gzipBytes: number };
      after: { accuracy: number; sizeBytes: number; gzipBytes: number };
    };
    const hl = gq.body.data.job.headline;
    assert.equal(hl.accuracy, report.after.accuracy);
    assert.equal(hl.split, 'test');
    assert.equal(hl.sizeRatio, report.before.sizeBytes / report.after.sizeBytes);
    assert.equal(hl.gzipRatio, report.before.gzipBytes / report.after.gzipBytes);
    const u8 = await cells(jobs.uint8.id);
    const f16 = await cells(jobs.float16.id);
    assert.match(u8.params, /^uint8\b/);
    assert.match(f16.params, /^float16\b/);
    // Accuracy on its split, its change, and the size ratio: about ×4 for uint8, ×2 for float16 (model.json aside).
    const headline = /^\d+\.\d\d% \(test, [+−]\d+\.\d\d pt\) · ×(\d+\.\d\d) smaller$/;
    const ratioOf = (text: string) => Number(headline.exec(text)?.[1] ?? NaN);
    assert.ok(ratioOf(u8.result) > 3 && ratioOf(u8.result) <= 4, u8.result);
    assert.ok(ratioOf(f16.result) > 1.5 && ratioOf(f16.result) <= 2, f16.result);
    assert.match((await cells(jobs.evaluate.id)).result, /^\d+\.\d\d% \(test\)$/, 'evaluate names its split, no ratios');
    assert.match((await cells(jobs.autocompress.id)).params, /objective size · drop ≤ 2 pt · 2 trials/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-jobs-summaries.png'), fullPage: true });
    assert.match((await cells(jobs.pipeline.id)).params, /^prune \(.*sparsity 0\.5.*\) → quantize \(uint8.*\)$/);
    // Pruning leaves the raw size and shrinks the gzip: both ratios show.
    assert.match((await cells(jobs.pipeline.id)).result, /^\d+\.\d\d% \(test, [+−]\d+\.\d\d pt\) · ×\d+\.\d\d smaller raw, ×\d+\.\d\d gzip$/);
    assert.match(await row(jobs.distill.id).innerText(), /teacher tiny/);

    const compare = page.getByRole('button', { name: 'Compare selected jobs' });
    assert.equal(await compare.isDisabled(), true);
    await row(jobs.uint8.id).getByRole('checkbox').check();
    assert.equal(await compare.isDisabled(), true, 'one job is not a comparison');
    await row(jobs.float16.id).getByRole('checkbox').check();
    await compare.click();
    await page.waitForURL(/#\/compare\?jobs=/);
    const compared = page.getByRole('table', { name: 'Compared jobs' });
    await compared.waitFor();
    const dtype = (await compared.getByRole('row', { name: /^dtype/ }).innerText()).split('\t').map((s) => s.trim());
    assert.deepEqual(dtype.slice(1), ['uint8', 'float16']);
    assert.match((await compared.getByRole('row', { name: /^dtype/ }).getAttribute('class')) ?? '', /differs/);
    assert.equal(await compared.locator('thead th').count(), 3);
    const ratio = (await compared.getByRole('row', { name: /^Size ratio/ }).innerText()).split('\t').map((s) => s.trim());
    assert.equal(ratio[1], `×${ratioOf(u8.result).toFixed(2)}`);
    assert.equal(ratio[2], `×${ratioOf(f16.result).toFixed(2)}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-compare-jobs.png'), fullPage: true });
  });

  test('models compare: the original and an autocompress candidate side by side', async () => {
    await page.goto(`${ctx.baseUrl}/#/models`);
    const chosenId = jobs.autocompress.resultModelIds.find((id) => id !== modelId)!;
    await page.getByRole('table', { name: 'Models' }).waitFor();
    const rowOf = (id: string) =>
      page.getByRole('table', { name: 'Models' }).locator('tbody tr', { has: page.locator(`td:nth-child(2) a[href="#/models/${id}"]`) }); // not the Origin column's parent link
    await rowOf(modelId).getByRole('checkbox').check();
    await rowOf(chosenId).getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Compare selected models' }).click();
    const compared = page.getByRole('table', { name: 'Compared models' });
    await compared.waitFor();
    const hrefs = await compared.locator('thead a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.deepEqual(hrefs.sort(), [`#/models/${modelId}`, `#/models/${chosenId}`].sort());
    const origin = await compared.getByRole('row', { name: /^Origin/ }).innerText();
    assert.match(origin, /uploaded/);
    assert.match(origin, /autocompress of tiny/);
  });

  test('no script errors on any page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
