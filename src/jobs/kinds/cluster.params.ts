// Params of `cluster` jobs (issue 16): k-means weight sharing per kernel (Deep Compression §3) with centroid
// fine-tuning; the kind is cluster.ts. `bits` or `clusters` sets the distinct values per kernel (zero included
// when the kernel was pruned: zeros stay exactly zero).
import { Type, type Static } from 'typebox';

export const ClusterParams = Type.Object(
  {
    bits: Type.Optional(Type.Integer({ minimum: 1, maximum: 8, description: 'Index bits per weight: 2^bits values per kernel (default 5)' })),
    clusters: Type.Optional(Type.Integer({ minimum: 2, maximum: 256, description: 'Values per kernel (instead of bits)' })),
    fineTuneEpochs: Type.Integer({
      minimum: 0,
      maximum: 1000,
      default: 1,
      description: 'Centroid fine-tuning epochs (gradients shared per cluster)',
    }),
    batchSize: Type.Integer({ minimum: 1, maximum: 65536, default: 128 }),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 1e-4 }),
    excludeLayers: Type.Optional(Type.Array(Type.String(), { description: 'Layer names left unclustered' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Use only the first N training examples' })),
    seed: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);
export type ClusterParams = Static<typeof ClusterParams>;

export const DEFAULT_CLUSTER_BITS = 5;

/** The number of clusters `params` ask for (bits → 2^bits; default 2^5). */
export function clusterCount(params: Pick<ClusterParams, 'bits' | 'clusters'>): number {
  return params.clusters ?? 2 ** (params.bits ?? DEFAULT_CLUSTER_BITS);
}
