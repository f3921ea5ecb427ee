// Public surface of the compression algorithms (pure functions on tfjs models, tensors and weight manifests).
export { applyMasks, magnitudeMasks, prunableWeights, sparsityOf } from './prune/magnitude.ts';
export type { NamedWeight, PrunableWeight, PruningScope, WeightMasks } from './prune/magnitude.ts';
export { constantSparsity, polynomialDecay } from './prune/schedule.ts';
export type { ConstantSparsityParams, PolynomialDecayParams, PruningSchedule } from './prune/schedule.ts';
export { GradualPruner } from './prune/gradual.ts';
export type { GradualPruningOptions } from './prune/gradual.ts';
export { structuredPrune, unitNorms, zeroRemovedUnits } from './prune/structured.ts';
export type { StructuredPruneOptions, StructuredPruneResult, UnitNorm } from './prune/structured.ts';
export { distillationLoss, logitsModel } from './distill/loss.ts';
export type { DistillationLossArgs } from './distill/loss.ts';
export { affineParams, float16BitsToNumber, float32ToFloat16Bits, quantizeWeights } from './quantize/affine.ts';
export type { QuantizationDtype, QuantizeOptions, QuantizeResult } from './quantize/affine.ts';
