// Starts a worker thread on a module beside the caller's, with the caller's extension: `.ts` under tsx (the thread
// then registers tsx's loader first: loader hooks from the parent's --import do not reach a worker's entry module
// under Node 20) or `.js` in a build. One place for what the training replicas, the lease heartbeat and the model
// converter each did on their own.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

// A CommonJS bootstrap (eval), so the entry can be a .ts file.
const BOOTSTRAP = `const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.entry.endsWith('.ts')) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})();`;

/**
 * A thread running `name` (without extension) from the directory of `callerUrl` (the caller's import.meta.url);
 * `workerData` reaches the entry as usual, with `entry` and `tsx` added.
 */
export function startTsThread(
  callerUrl: string,
  name: string,
  workerData: object = {},
  options: Omit<WorkerOptions, 'eval' | 'workerData'> = {},
): Worker {
  const caller = fileURLToPath(callerUrl);
  const entry = pathToFileURL(path.join(path.dirname(caller), `${name}${path.extname(caller)}`)).href;
  // Resolved here, not at import: a bundled build (a GPU machine's, without node_modules) has no tsx to resolve.
  const tsx = entry.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null;
  return new Worker(BOOTSTRAP, { ...options, eval: true, workerData: { ...workerData, entry, tsx } });
}
