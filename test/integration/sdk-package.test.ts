// The SDK as a package other projects install: `npm pack` in openapi/sdk (prepack builds JS + .d.ts with tsc), then a
// fresh temp project installs the tarball, type-checks a consumer against the packed .d.ts (strict, NodeNext, no
// skipLibCheck) and runs the compiled consumer with plain node against a live server: upload, read back, download
// the archive, and a 404 as ModelpressError. Nothing from this repository is on the consumer's module path.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tinyModelFiles } from '../helpers/fixtures.ts';
import { startTestApp, type TestContext } from '../helpers/harness.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SDK_DIR = path.join(ROOT, 'openapi/sdk');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
/** npm's own settings from a surrounding `npm test` (prefix, cwd) must not leak into the temp project's npm. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

const CONSUMER = `import fs from 'node:fs/promises';
import { createModelpressClient, ModelpressError, type Model } from '@modelpress/sdk';

const mp = createModelpressClient(process.argv[2]);
const model: Model = await mp.uploadModel({
  name: 'from-tarball',
  files: [
    { name: 'model.json', data: await fs.readFile('model.json', 'utf8') },
    { name: 'group1-shard1of1.bin', data: new Uint8Array(await fs.readFile('group1-shard1of1.bin')) },
  ],
});
const params: number = (await mp.api.GET('/v1/models/{id}', { params: { path: { id: model.id } } })).data?.params ?? -1;
const zip: Uint8Array = await mp.downloadModelArchive(model.id);
let notFound = 0;
try {
  await mp.getJob('00000000-0000-4000-8000-000000000000');
} catch (err) {
  if (err instanceof ModelpressError) notFound = err.status;
}
console.log(JSON.stringify({ id: model.id, params, zipMagic: Buffer.from(zip.subarray(0, 2)).toString('latin1'), notFound }));
`;

let ctx: TestContext;
let dir: string;

before(async () => {
  ctx = await startTestApp('embedded');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mp-sdk-consumer-'));
});
after(async () => {
  await ctx?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

test('npm pack openapi/sdk → install the tarball in a fresh project → type-check and run a consumer', { timeout: 300_000 }, async () => {
  const packed = JSON.parse((await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: SDK_DIR, env: cleanEnv })).stdout) as {
    filename: string;
    files: { path: string }[];
  }[];
  const tarball = path.join(dir, packed[0].filename);
  assert.deepEqual(packed[0].files.map((f) => f.path).sort(), ['dist/index.d.ts', 'dist/index.js', 'dist/schema.d.ts', 'package.json']);

  const project = path.join(dir, 'consumer');
  await fs.mkdir(project);
  await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: project, env: cleanEnv });
  await fs.writeFile(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        lib: ['ES2022', 'DOM'],
        typeRoots: [path.join(ROOT, 'node_modules/@types')],
        types: ['node'],
      },
      files: ['consumer.ts'],
    }),
  );
  await fs.writeFile(path.join(project, 'consumer.ts'), CONSUMER);
  await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project }).catch((err: { stdout?: string }) => {
    assert.fail(`the consumer does not type-check against the packed .d.ts:\n${err.stdout}`);
  });

  const files = await tinyModelFiles();
  await fs.writeFile(path.join(project, 'model.json'), files.modelJson);
  await fs.writeFile(path.join(project, 'group1-shard1of1.bin'), files.shards[0].data);
  const { stdout } = await run(process.execPath, ['consumer.js', ctx.baseUrl], { cwd: project });
  const out = JSON.parse(stdout) as { id: string; params: number; zipMagic: string; notFound: number };
  assert.equal(out.params, 784 * 16 + 16 + 16 * 10 + 10);
  assert.equal(out.zipMagic, 'PK');
  assert.equal(out.notFound, 404);
  assert.equal((await ctx.http.get(`/v1/models/${out.id}`).expect(200)).body.name, 'from-tarball');
});
