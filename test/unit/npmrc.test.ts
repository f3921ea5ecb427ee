// onnxruntime-node's install script downloads GPU extras from outside and fails the whole install here; the project
// .npmrc line `onnxruntime-node-install=skip` stops it. npm 11 warns that unknown project config keys will stop
// working in its next major version: this test fails the day npm no longer hands the key to install scripts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';

const root = new URL('../..', import.meta.url);

test('.npmrc sets onnxruntime-node-install=skip', () => {
  const lines = fs.readFileSync(new URL('.npmrc', root), 'utf8').split('\n');
  assert.ok(lines.includes('onnxruntime-node-install=skip'));
});

test('npm passes onnxruntime-node-install from .npmrc to lifecycle scripts (what its install script reads)', () => {
  const env = { ...process.env };
  delete env.npm_config_onnxruntime_node_install;
  delete env.ONNXRUNTIME_NODE_INSTALL;
  const out = execFileSync('npm', ['exec', '--offline', '-c', 'node -p process.env.npm_config_onnxruntime_node_install'], {
    cwd: root,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  assert.equal(out.trim().split('\n').pop(), 'skip');
});
