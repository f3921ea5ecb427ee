// Shared pieces of job resource estimates (the registry's default and the kinds' own estimate()).
import type { ResourceFacts } from './kind.ts';

/** Batch size of jobs whose params have none (evaluation and calibration passes). */
export const DEFAULT_BATCH = 256;

/**
 * Peak activation memory: batch × float32 × the model's layer outputs (twice when training: the outputs kept for
 * the backward pass and their gradients) plus the teacher's forward pass.
 */
export function activationBytes(params: Record<string, unknown>, facts: ResourceFacts, trains: boolean): number {
  const batch = typeof params.batchSize === 'number' ? params.batchSize : DEFAULT_BATCH;
  return batch * 4 * (facts.modelActivations * (trains ? 2 : 1) + facts.teacherActivations);
}
