// onnxruntime-node's install script only downloads GPU extras from outside and fails the whole install here; the
// package.json `allowScripts` policy (npm ≥ 11.16) denies it while keeping the scripts the build needs (prisma's
// client generation, esbuild's binary). This replaced the .npmrc key npm 11 warned about.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  allowScripts?: Record<string, boolean>;
};

test('allowScripts denies onnxruntime-node (its nuget download) and allows prisma and esbuild', () => {
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
  for (const name of ['prisma', '@prisma/client', '@prisma/engines', 'esbuild']) assert.equal(pkg.allowScripts?.[name], true, name);
});

test('the onnxruntime-node CPU binary that ships in the package loads without its install script', async () => {
  const ort = await import('onnxruntime-node');
  assert.equal(typeof ort.InferenceSession.create, 'function');
});
