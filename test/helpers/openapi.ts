// Builds the app over a throwaway embedded runtime and returns its generated OpenAPI document.
import { buildApp } from '../../src/http/app.ts';
import { createRuntime } from '../../src/runtime.ts';
import { loadConfig } from '../../src/config.ts';
import { targetEnv } from './harness.ts';

export async function generateOpenApi(): Promise<unknown> {
  const { env, cleanup } = await targetEnv('embedded', { LOG_LEVEL: 'silent' });
  const runtime = await createRuntime(loadConfig(env));
  try {
    const app = await buildApp(runtime, { logger: false });
    await app.ready();
    const doc = app.swagger();
    await app.close();
    return JSON.parse(JSON.stringify(doc));
  } finally {
    await runtime.close();
    await cleanup();
  }
}
