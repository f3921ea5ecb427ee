// Locates the real published model files (/work/shared/fixtures/real-models, see its README) that importer tests
// read in place. They are never copied into the repository, so a checkout finds them by convention: the env var
// MODELPRESS_REAL_MODELS, else <repo>/../shared/fixtures/real-models, else /work/shared/fixtures/real-models.
// Locally a missing directory skips the tests that need it; in CI (CI=true) it fails them, so the importers are
// never "tested" against nothing.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The directories searched, in order. */
export function realModelsCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = env.MODELPRESS_REAL_MODELS ? [path.resolve(env.MODELPRESS_REAL_MODELS)] : [];
  return [...fromEnv, path.resolve(REPO_ROOT, '../shared/fixtures/real-models'), '/work/shared/fixtures/real-models'];
}

/**
 * The real-models directory, or null when none exists (tests then skip with `REAL_MODELS_SKIP`).
 * With CI=true a missing directory throws instead. A set MODELPRESS_REAL_MODELS that does not exist always throws:
 * whoever set it meant those files.
 */
export function realModelsDir(env: NodeJS.ProcessEnv = process.env, candidates = realModelsCandidates(env)): string | null {
  if (env.MODELPRESS_REAL_MODELS && !fs.existsSync(env.MODELPRESS_REAL_MODELS))
    throw new Error(`MODELPRESS_REAL_MODELS=${env.MODELPRESS_REAL_MODELS} does not exist`);
  const found = candidates.find((dir) => fs.existsSync(dir));
  if (found) return found;
  if (env.CI === 'true') throw new Error(`real model fixtures not found (CI=true); looked in: ${candidates.join(', ')}`);
  return null;
}

/** Absolute path of one fixture file, e.g. realModelPath('keras2-mnist-cnn.h5'); null when the directory is absent. */
export function realModelPath(file: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const dir = realModelsDir(env);
  if (!dir) return null;
  const p = path.join(dir, file);
  if (!fs.existsSync(p)) throw new Error(`real model fixture ${file} missing from ${dir}`);
  return p;
}

/** The `skip` reason for tests when the directory is absent (use: `{ skip: realModelsDir() ? false : REAL_MODELS_SKIP }`). */
export const REAL_MODELS_SKIP = 'real model fixtures not found: set MODELPRESS_REAL_MODELS or check out /work/shared beside the repo';
