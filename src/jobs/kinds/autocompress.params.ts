// Params of `autocompress` jobs (issue 16's API contract): an accuracy-driven search over compression methods and
// levels (Intel Neural Compressor's tuning, NNI AutoCompress); the kind is autocompress.ts.
import { Type, type Static } from 'typebox';

export const AUTOCOMPRESS_METHODS = ['distill', 'structured', 'prune', 'cluster', 'quantize'] as const;
export type AutocompressMethod = (typeof AUTOCOMPRESS_METHODS)[number];

export const AutocompressParams = Type.Object(
  {
    maxAccuracyDrop: Type.Number({
      minimum: 0,
      maximum: 100,
      default: 0.5,
      description: 'Largest accepted accuracy drop in percentage points, measured on a validation hold-out of the train split',
    }),
    objective: Type.Union([Type.Literal('size'), Type.Literal('latency'), Type.Literal('flops')], {
      default: 'size',
      description: 'What the chosen model minimises: size = gzip bytes of its files, latency = batch-1 p50 ms, flops = per example',
    }),
    budget: Type.Object(
      {
        trials: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, description: 'Candidates trained and measured at most (default 12)' })),
        minutes: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10080, description: 'No new candidate starts after this' })),
      },
      { additionalProperties: false, default: {} },
    ),
    methods: Type.Optional(
      Type.Array(Type.Enum(AUTOCOMPRESS_METHODS), {
        minItems: 1,
        uniqueItems: true,
        description:
          'Methods searched, in this order of stages (default: size → prune, cluster, quantize; latency/flops → structured, quantize). distill = a student of half, then a quarter the width',
      }),
    ),
    // 16 (was 10, before that 6): LeNet-5 on MNIST (60k, in-process, bench/autocompress-trials.ts) pruned to 95% lost
    // 0.59 pp on the test split after 6 epochs, 0.15 pp after 10; prune 96% → 3-bit clusters → uint8 (41×), on two
    // dense models: test −0.15 → +0.13 pp and −0.06 → +0.09 pp, hold-out +0.14 → +0.34 and −0.22 → +0.04 pp from 10
    // to 16 epochs (2026-12-01, quiet 2-core VM, 50 → 75 s per candidate).
    fineTuneEpochs: Type.Integer({
      minimum: 0,
      maximum: 100,
      default: 16,
      description:
        'Fine-tuning epochs of every pruning / distillation candidate (pruning: the sparsity ramps up over the first two thirds, the rest recovers)',
    }),
    clusterEpochs: Type.Integer({ minimum: 0, maximum: 100, default: 1, description: 'Centroid fine-tuning epochs of every clustering candidate' }),
    batchSize: Type.Integer({ minimum: 1, maximum: 65536, default: 128 }),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 5e-4 }),
    limit: Type.Optional(
      Type.Integer({ minimum: 10, description: 'Use only the first N training examples (tuning rows and the validation hold-out)' }),
    ),
    validationLimit: Type.Integer({ minimum: 1, default: 5000, description: 'Decide on at most N rows of the validation hold-out' }),
    seed: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);
export type AutocompressParams = Static<typeof AutocompressParams>;

export const DEFAULT_TRIALS = 12;

/** The stages searched, in order. */
export function methodsFor(params: Pick<AutocompressParams, 'methods' | 'objective'>): AutocompressMethod[] {
  if (params.methods) return AUTOCOMPRESS_METHODS.filter((m) => params.methods!.includes(m));
  return params.objective === 'size' ? ['prune', 'cluster', 'quantize'] : ['structured', 'quantize'];
}
