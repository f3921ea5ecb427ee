// GraphiQL at /graphiql and Swagger UI at /docs/ in a real headless Chromium (issue 18): each page renders, loads
// its schema from this server, and every request it makes goes to this server (GraphiQL's assets come from the
// graphiql/react/react-dom packages, Swagger UI's from @fastify/swagger-ui, no CDN), with no CSP violation or page
// error. Embedded target only: the browser side is checked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, skipWithoutChromium } from '../helpers/chromium.ts';
import { startTestApp, type TestContext } from '../helpers/harness.ts';

const skip = skipWithoutChromium;

describe('GraphiQL in headless Chromium', { skip }, () => {
  let ctx: TestContext;
  let browser: Browser;
  before(async () => {
    [ctx, browser] = await Promise.all([startTestApp('embedded'), launchChromium()]);
  });
  after(async () => {
    await browser?.close();
    await ctx?.close();
  });

  test('renders from same-origin assets only and introspects /graphql', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    // A failed load is reported by URL below (Chromium asks for /favicon.ico by itself: not the page's doing).
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && problems.push(`console: ${m.text()}`));
    const failed: string[] = [];
    page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && failed.push(`${r.status()} ${r.url()}`));
    const introspected = page.waitForResponse(
      (r) => r.url() === `${ctx.baseUrl}/graphql` && r.request().method() === 'POST' && /__schema/.test(r.request().postData() ?? ''),
    );
    const res = await page.goto(`${ctx.baseUrl}/graphiql`);
    assert.equal(res?.status(), 200);
    assert.doesNotMatch(res?.headers()['content-security-policy'] ?? '', /unpkg|https:/, 'the CSP names no other origin');
    await page.locator('.graphiql-container').waitFor();
    assert.equal((await introspected).status(), 200);
    await page.getByRole('button', { name: /documentation explorer/i }).click();
    await page.getByText('Query', { exact: true }).first().waitFor(); // the docs explorer lists the root types from the schema
    const foreign = requests.filter((u) => !u.startsWith(`${ctx.baseUrl}/`) && !u.startsWith('data:'));
    assert.deepEqual(foreign, [], 'requests to another origin');
    assert.deepEqual(failed, [], 'failed loads');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('Swagger UI at /docs/ renders the OpenAPI operations from same-origin assets only', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && problems.push(`console: ${m.text()}`));
    const failed: string[] = [];
    page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && failed.push(`${r.status()} ${r.url()}`));
    assert.equal((await page.goto(`${ctx.baseUrl}/docs/`))?.status(), 200);
    await page.locator('.opblock').first().waitFor(); // operations rendered from /docs/json
    const foreign = requests.filter((u) => !u.startsWith(`${ctx.baseUrl}/`) && !u.startsWith('data:'));
    assert.deepEqual(foreign, [], 'requests to another origin');
    assert.deepEqual(failed, [], 'failed loads');
    assert.deepEqual(problems, []);
    await page.close();
  });
});
