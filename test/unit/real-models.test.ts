// The real-models locator: search order, the env override, and CI's refusal to run without the files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { realModelPath, realModelsCandidates, realModelsDir } from '../helpers/real-models.ts';

describe('real-models locator', () => {
  it('prefers MODELPRESS_REAL_MODELS, then <repo>/../shared, then /work/shared', () => {
    const c = realModelsCandidates({ MODELPRESS_REAL_MODELS: '/x/y' });
    assert.equal(c[0], '/x/y');
    assert.match(c[1] ?? '', /shared\/fixtures\/real-models$/);
    assert.equal(c[2], '/work/shared/fixtures/real-models');
  });

  it('uses the env directory and resolves files in it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-real-models-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.onnx'), 'x');
      assert.equal(realModelsDir({ MODELPRESS_REAL_MODELS: dir }), dir);
      assert.equal(realModelPath('a.onnx', { MODELPRESS_REAL_MODELS: dir }), path.join(dir, 'a.onnx'));
      assert.throws(() => realModelPath('missing.onnx', { MODELPRESS_REAL_MODELS: dir }), /missing\.onnx missing/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws when MODELPRESS_REAL_MODELS names a directory that does not exist', () => {
    assert.throws(() => realModelsDir({ MODELPRESS_REAL_MODELS: '/nonexistent/real-models' }), /does not exist/);
  });

  it('returns null locally and throws under CI when no candidate exists', () => {
    const none = ['/nonexistent/a', '/nonexistent/b'];
    assert.equal(realModelsDir({}, none), null);
    assert.throws(() => realModelsDir({ CI: 'true' }, none), /not found \(CI=true\); looked in: \/nonexistent\/a/);
  });
});
