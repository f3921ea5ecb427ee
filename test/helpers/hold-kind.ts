// A job kind that exists only in the tests: `hold` runs `steps` steps and starts each one only when the test
// releases it (`releaseHold`), reporting a `loss` point and progress per step. A test can thus act on a job that is
// surely running (cancel it, delete its model, watch a page follow it) with no sleep and no guessed duration.
// Releases are files in the job's `gate` directory, watched with fs.watch (an event, not a poll), so the kind also
// works in a worker child process: spawnWorker(ctx, { imports: [HOLD_KIND_MODULE] }). Import this module before
// the app's modules (they derive their enums from the registry at import).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Type } from 'typebox';
import type { JobKind } from '../../src/jobs/kind.ts';
import { registerJobKind } from '../../src/jobs/registry.ts';

export const HOLD_KIND_MODULE = new URL(import.meta.url).pathname;

export const HoldParams = Type.Object(
  {
    gate: Type.String({ minLength: 1, description: 'Directory the test writes releases into (newHoldGate())' }),
    steps: Type.Integer({ minimum: 1, maximum: 1000, default: 1 }),
  },
  { additionalProperties: false },
);

/** A fresh gate directory for `hold` jobs. */
export const newHoldGate = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mp-hold-'));

/** Lets job `jobId` run its step `step`, or every remaining step with 'all'. */
export function releaseHold(gate: string, jobId: string, step: number | 'all' = 'all') {
  fs.writeFileSync(path.join(gate, `${jobId}.${step}`), '');
}

/** Resolves once one of `names` exists in `dir`; rejects when `signal` aborts (the job was canceled or interrupted). */
function opened(dir: string, names: string[], signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = fs.watch(dir); // before the first look: a release written in between is not missed
    const finish = (err?: Error) => {
      watcher.close();
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(new Error('hold interrupted'));
    const check = () => names.some((n) => fs.existsSync(path.join(dir, n))) && finish();
    watcher.on('change', check);
    watcher.on('error', (err) => finish(err));
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    else check();
  });
}

export const holdKind: JobKind<typeof HoldParams> = {
  type: 'hold',
  paramsSchema: HoldParams,
  requires: {},
  trains: false,
  async run(ctx, params) {
    for (let step = 1; step <= params.steps; step++) {
      await opened(params.gate, [`${ctx.jobId}.${step}`, `${ctx.jobId}.all`], ctx.signal).catch((err: unknown) => {
        ctx.throwIfCanceled();
        throw err;
      });
      ctx.metrics([{ name: 'loss', step, epoch: 1, value: 1 / step }]);
      ctx.progress({ fraction: step / params.steps, epoch: 1, step });
    }
    ctx.log(`hold released ${params.steps} steps`);
    return { resultModelIds: [], report: { steps: params.steps } };
  },
};

registerJobKind(holdKind);
