// `noop`: sleeps through `steps` steps, reporting progress and a synthetic loss each step. Used by the tests and
// the queue benchmark; honours cancellation between steps (and during a step's sleep). `allocateBytes` makes it
// allocate one tensor first (the worker's out-of-memory recycling is tested with one beyond wasm's 4 GB).
import { setTimeout as sleep } from 'node:timers/promises';
import { Type } from 'typebox';
import { AppError } from '../../errors.ts';
import type { JobKind } from '../kind.ts';

export const NoopParams = Type.Object(
  {
    durationMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 0, description: 'Total sleep, spread over the steps' }),
    steps: Type.Integer({ minimum: 0, maximum: 100_000, default: 1 }),
    failAt: Type.Optional(Type.Integer({ minimum: 1, description: 'Fail with JOB_FAILED at this step' })),
    allocateBytes: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Allocate a float32 tensor of this many bytes on the compute backend first (memory-limit tests)' }),
    ),
  },
  { additionalProperties: false },
);

export const noopKind: JobKind<typeof NoopParams> = {
  type: 'noop',
  paramsSchema: NoopParams,
  requires: {},
  trains: false,
  /** As the default for a non-training kind, without activations (it never runs a model), plus its allocation. */
  estimate: (params, facts) => ({
    bytes: facts.modelParams * 8 + facts.teacherParams * 4 + facts.datasetBytes + (params.allocateBytes ?? 0),
    epochs: [],
  }),
  async run(ctx, params) {
    const { steps, durationMs } = params;
    if (params.allocateBytes) {
      const { tf } = await import('../../ml/tf.ts');
      tf.zeros([Math.ceil(params.allocateBytes / 4)]).dispose();
    }
    const stepMs = steps > 0 ? durationMs / steps : durationMs;
    const t0 = Date.now();
    if (steps === 0 && durationMs > 0) await sleep(durationMs, undefined, { signal: ctx.signal }).catch(() => ctx.throwIfCanceled());
    for (let step = 1; step <= steps; step++) {
      if (stepMs > 0) await sleep(stepMs, undefined, { signal: ctx.signal }).catch(() => {});
      ctx.throwIfCanceled();
      if (params.failAt === step) throw new AppError('JOB_FAILED', `noop failed at step ${step} as asked (failAt)`);
      ctx.metrics([{ name: 'loss', step, epoch: 1, value: 1 / step }]);
      const elapsed = (Date.now() - t0) / 1000;
      ctx.progress({ fraction: step / steps, epoch: 1, step, etaSeconds: (elapsed / step) * (steps - step) });
    }
    ctx.log(`noop finished ${steps} steps`, 'info', { steps });
    return { resultModelIds: [], report: { steps, durationMs, elapsedMs: Date.now() - t0 } };
  },
};
