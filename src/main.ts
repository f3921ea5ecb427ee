// CLI entry: `modelpress serve` (API; in embedded mode also an in-process worker), `modelpress worker` and
// `modelpress keys create|list|revoke|create-project|projects` (API keys) and `modelpress example model|dataset` (files to try the API with).
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { serve } from './server.ts';

async function main() {
  const [command = 'serve', ...rest] = process.argv.slice(2);
  if (command === 'example') {
    const { runExampleCommand } = await import('./cli/example.ts');
    process.exitCode = await runExampleCommand(rest);
    return;
  }
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  switch (command) {
    case 'serve':
      await serve(config);
      break;
    case 'worker': {
      const { values } = parseArgs({ args: rest, options: { concurrency: { type: 'string' } } });
      const { runWorkerProcess } = await import('./worker/process.ts');
      await runWorkerProcess(config, { concurrency: values.concurrency ? Number(values.concurrency) : undefined });
      break;
    }
    case 'keys': {
      const { runKeysCommand } = await import('./cli/keys.ts');
      process.exitCode = await runKeysCommand(config, rest).catch((err: unknown) => {
        console.error(err instanceof Error ? err.message : String(err));
        return 1;
      });
      break;
    }
    default:
      console.error(
        `unknown command "${command}"; use: serve | worker [--concurrency N] | keys create|list|revoke|create-project|projects | example model|dataset`,
      );
      process.exit(2);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
