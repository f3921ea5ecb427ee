// The README never lies: every ```sh block of a README.md section that calls curl runs with bash against a live server (an
// in-process worker, the built-in MNIST), each `##` section as one shell session in README order, so a block can
// use the variables set by the blocks above it. Every curl must succeed (the test's curl adds -f, so an HTTP error
// fails the block), and the cookbook's results are checked through the API afterwards.
// README examples address http://127.0.0.1:3000 (the default); the test's curl sends those requests to the server
// under test instead. `$ID` (used by "## Call it") is a model uploaded before that section runs.
// "## From nothing" runs in an empty directory (it must need no file you don't have): its `npm ci` and `npm start`
// are skipped (the server under test is already live) and `npm run cli …` runs in this repository, writing into that
// directory; its ```python block (the requests upload snippet) runs there too when python3 has `requests`.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { startTestApp, type TestContext } from '../helpers/harness.ts';

const README = new URL('../../README.md', import.meta.url);
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FROM_NOTHING = 'From nothing';
/** `npm` inside "From nothing": ci/start are already done by the harness; the rest (npm run cli …) runs in the repository. */
const NPM_SHIM = `npm() { case "$1" in ci|start) echo "(test: npm $1 skipped, the server under test is live)" ;; *) command npm --prefix "${REPO_ROOT}" "$@" ;; esac; }`;
const DOCUMENTED_BASE = 'http://127.0.0.1:3000';
/** A hang bound, not a speed check: at load ~20 (a 2-core CI machine shared with benches) "From nothing", whose
 * blocks wait for a prune job, ran past 240 s. */
const SECTION_TIMEOUT_MS = 900_000;

interface Block {
  text: string;
  line: number;
}
interface Section {
  title: string;
  blocks: Block[];
  /** The section's ```python blocks (only run for "From nothing"). */
  python: Block[];
}

/** The README's ```sh blocks that call curl, grouped by their `## ` section, in order. */
async function curlSections(): Promise<Section[]> {
  const sections: Section[] = [];
  let line = 1; // README line of the current part's first line
  for (const part of (await fs.readFile(README, 'utf8')).split(/^(?=## )/m)) {
    const title = part.split('\n', 1)[0].replace(/^## /, '');
    const lineOf = (index: number) => line + part.slice(0, index).split('\n').length; // +1: the fence line
    const blocks = [...part.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => ({ text: m[1], line: lineOf(m.index) }));
    const python = [...part.matchAll(/^```python\n([\s\S]*?)^```/gm)].map((m) => ({ text: m[1], line: lineOf(m.index) }));
    if (blocks.some((b) => /\bcurl\b/.test(b.text))) sections.push({ title, blocks, python });
    line += part.split('\n').length - 1;
  }
  return sections;
}

/** 150 rows like the Iris data set (three separable species), with the label column `species`. */
function irisCsv(): string {
  const species = ['setosa', 'versicolor', 'virginica'];
  const rows = ['sepal_length,sepal_width,petal_length,petal_width,species'];
  for (let i = 0; i < 150; i++) {
    const c = i % 3;
    const j = ((i * 37) % 11) / 10;
    rows.push(
      [5 + c * 0.9 + j * 0.3, 3.4 - c * 0.3 + j * 0.2, 1.4 + c * 2.1 + j * 0.4, 0.2 + c * 0.9 + j * 0.2].map((v) => v.toFixed(1)).join(',') +
        `,${species[c]}`,
    );
  }
  return `${rows.join('\n')}\n`;
}

/** Runs one section's blocks in one bash process; resolves with its exit code and output (failures name README lines). */
function runSection(
  section: Section,
  cwd: string,
  env: Record<string, string>,
  prelude: string[] = [],
): Promise<{ code: number | null; out: string }> {
  const lines = [
    'set -Eeuo pipefail',
    ...prelude,
    // The README's default address → the server under test; -f: any HTTP error status fails the block.
    `curl() { local a s args=(); for a in "$@"; do args+=("\${a//${DOCUMENTED_BASE.replace(/\//g, '\\/')}/$MODELPRESS_TEST_BASE}"); done; command curl -f "\${args[@]}" || { s=$?; echo "curl $* → exit $s" >&2; return $s; }; }`,
    'trap \'echo "@@failed at script line $LINENO: $BASH_COMMAND" >&2\' ERR',
  ];
  const readmeLine = new Map<number, number>(); // script line → README line
  for (const b of section.blocks) {
    for (const [i, l] of b.text.replace(/\n$/, '').split('\n').entries()) {
      lines.push(l);
      readmeLine.set(lines.length, b.line + i);
    }
  }
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', lines.join('\n')], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), SECTION_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        out: out.replace(
          /@@failed at script line (\d+)/g,
          (_, n: string) => `README.md line ${readmeLine.get(Number(n)) ?? `? (script line ${n})`} failed`,
        ),
      });
    });
  });
}

let ctx: TestContext;
let workDir: string;
let nothingDir: string; // "From nothing" starts here, empty
let modelId: string;

before(async () => {
  ctx = await startTestApp('embedded', { MODELPRESS_BACKEND: 'wasm', MODELPRESS_QUEUE_POLL_SECONDS: '1' }, { worker: { concurrency: 1 } });
  await ctx.runtime.services.datasets.ensureBuiltins(); // `npm start` registers it at start
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mp-readme-'));
  nothingDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mp-readme-nothing-'));
  const files = await tinyModelFiles();
  await fs.writeFile(path.join(workDir, 'model.json'), files.modelJson);
  for (const s of files.shards) await fs.writeFile(path.join(workDir, s.name), s.data);
  await fs.writeFile(path.join(workDir, 'iris.csv'), irisCsv());
  const upload = ctx.http.post('/v1/models').field('name', 'readme-id');
  upload.attach('files', files.modelJson, 'model.json');
  for (const s of files.shards) upload.attach('files', s.data, s.name);
  modelId = (await upload.expect(201)).body.id;
});
after(async () => {
  await ctx?.close();
  for (const dir of [workDir, nothingDir]) if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const sections = await curlSections();

test('README has curl blocks in "Call it" and "Curl cookbook", and the cookbook checks every HTTP status', () => {
  const titles = sections.map((s) => s.title);
  assert.ok(titles.includes('Call it') && titles.includes('Curl cookbook'), titles.join(', '));
  const cookbook = sections
    .find((s) => s.title === 'Curl cookbook')!
    .blocks.map((b) => b.text)
    .join('\n');
  const calls = cookbook.match(/\bcurl [^|)\n]*/g) ?? [];
  assert.ok(calls.length >= 20, `${calls.length} curl calls`);
  for (const c of calls) assert.match(c, /^curl -fsS /, `cookbook: ${c} (without -f an HTTP error would not fail the script)`);
  for (const kind of ['train', 'evaluate', 'prune', 'distill', 'quantize', 'pipeline']) assert.match(cookbook, new RegExp(`"type": "${kind}"`), kind);
});

for (const section of sections) {
  test(
    `README "${section.title}": ${section.blocks.length} curl block(s) run against a live server`,
    { timeout: SECTION_TIMEOUT_MS + 10_000 },
    async () => {
      const fromNothing = section.title === FROM_NOTHING;
      const env = { BASE: ctx.baseUrl, MODELPRESS_TEST_BASE: ctx.baseUrl, ID: modelId };
      const { code, out } = await runSection(section, fromNothing ? nothingDir : workDir, env, fromNothing ? [NPM_SHIM] : []);
      assert.equal(code, 0, `exit ${code}; output tail:\n${out.slice(-3000)}`);
    },
  );
}

test('README "From nothing": needs no file you don\'t have, and leaves the example files and the pruned archive', async () => {
  const section = sections.find((s) => s.title === FROM_NOTHING);
  assert.ok(section, 'README has a "From nothing" section with curl blocks');
  const text = section.blocks.map((b) => b.text).join('\n');
  assert.match(text, /^npm start &/m);
  assert.match(text, /npm run cli -- example model/);
  assert.match(text, /npm run cli -- example dataset/);
  assert.deepEqual((await fs.readdir(nothingDir)).sort(), ['group1-shard1of1.bin', 'iris.csv', 'model.json', 'pruned.zip']);
  const zip = await fs.readFile(path.join(nothingDir, 'pruned.zip'));
  assert.equal(zip.subarray(0, 4).toString('latin1'), 'PK\u0003\u0004', 'a zip archive');
  const datasets = (await ctx.http.get('/v1/datasets?name=iris').expect(200)).body.items as { classNames: string[]; examples: number }[];
  assert.ok(
    datasets.some((d) => d.examples === 150 && d.classNames.join() === 'setosa,versicolor,virginica'),
    JSON.stringify(datasets),
  );
});

test('README "From nothing": the Python requests snippet uploads the example files', async (t) => {
  const python = sections.find((s) => s.title === FROM_NOTHING)?.python ?? [];
  assert.equal(python.length, 1, 'one ```python block');
  // Asynchronously: the server under test runs in this process and must keep answering while python waits on it.
  const python3 = promisify(execFile);
  if (
    !(await python3('python3', ['-c', 'import requests']).then(
      () => true,
      () => false,
    ))
  )
    return t.skip('python3 with requests is not installed here');
  const { stdout } = await python3('python3', ['-c', python[0].text], {
    cwd: nothingDir,
    env: { ...process.env, BASE: ctx.baseUrl },
    timeout: 60_000,
  });
  const [id, params, classNames] = stdout.trim().split(' ', 3);
  assert.equal(Number(params), 784 * 32 + 32 + 32 * 10 + 10);
  assert.equal(classNames, "['setosa',");
  assert.equal((await ctx.http.get(`/v1/models/${id}`).expect(200)).body.name, 'example-mnist');
});

test('the cookbook left what it says: one succeeded job per kind, the pruned model downloaded', async () => {
  const jobs = (await ctx.http.get('/v1/jobs?limit=200').expect(200)).body.items as { type: string; status: string; resultModelIds: string[] }[];
  for (const kind of ['train', 'evaluate', 'prune', 'distill', 'quantize', 'pipeline']) {
    assert.ok(
      jobs.some((j) => j.type === kind && j.status === 'succeeded'),
      `a succeeded ${kind} job: ${JSON.stringify(jobs.map((j) => [j.type, j.status]))}`,
    );
  }
  const pruned = jobs.find((j) => j.type === 'prune' && j.status === 'succeeded')!.resultModelIds[0];
  const modelJson = JSON.parse(await fs.readFile(path.join(workDir, 'pruned-model.json'), 'utf8')) as { weightsManifest: unknown[] };
  assert.ok(modelJson.weightsManifest.length > 0);
  const zip = await fs.readFile(path.join(workDir, 'pruned.zip'));
  assert.equal(zip.subarray(0, 4).toString('latin1'), 'PK\u0003\u0004', 'a zip archive');
  const stored = await (await fetch(`${ctx.baseUrl}/v1/models/${pruned}/files/model.json`)).json();
  assert.deepEqual(stored, modelJson, 'the downloaded model.json is the pruned model');
});
