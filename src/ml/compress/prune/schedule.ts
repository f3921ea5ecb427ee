// Pruning schedules with the semantics of TF Model Optimization (tfmot.sparsity.keras.ConstantSparsity /
// PolynomialDecay): masks are recomputed only at steps where shouldPrune(step) is true.
import { AppError } from '../../../errors.ts';

export interface PruningSchedule {
  /** Target sparsity at `step` (0..1). */
  sparsityAt(step: number): number;
  /** True when masks should be recomputed at `step`. */
  shouldPrune(step: number): boolean;
}

export interface ConstantSparsityParams {
  targetSparsity: number;
  beginStep?: number;
  /** -1 = prune until training ends. */
  endStep?: number;
  frequency?: number;
}

export interface PolynomialDecayParams {
  initialSparsity: number;
  finalSparsity: number;
  beginStep: number;
  endStep: number;
  power?: number;
  frequency?: number;
}

function invalid(field: string, message: string): AppError {
  return new AppError('INVALID_JOB_PARAMS', `${field} ${message}`, { field });
}

function checkSparsity(field: string, s: number): void {
  // tfmot requires [0, 1): sparsity 1 would remove every weight.
  if (!Number.isFinite(s) || s < 0 || s >= 1) throw invalid(field, `must be in [0, 1), got ${s}`);
}

function checkSteps(beginStep: number, endStep: number, frequency: number): void {
  if (!Number.isInteger(beginStep) || beginStep < 0) throw invalid('beginStep', `must be an integer >= 0, got ${beginStep}`);
  if (!Number.isInteger(endStep) || (endStep !== -1 && endStep < beginStep)) {
    throw invalid('endStep', `must be -1 or an integer >= beginStep, got ${endStep}`);
  }
  if (!Number.isInteger(frequency) || frequency < 1) throw invalid('frequency', `must be an integer >= 1, got ${frequency}`);
}

function shouldPruneAt(step: number, beginStep: number, endStep: number, frequency: number): boolean {
  const inRange = step >= beginStep && (endStep === -1 || step <= endStep);
  return inRange && (step - beginStep) % frequency === 0;
}

export function constantSparsity(p: ConstantSparsityParams): PruningSchedule {
  const { targetSparsity, beginStep = 0, endStep = -1, frequency = 100 } = p;
  checkSparsity('targetSparsity', targetSparsity);
  checkSteps(beginStep, endStep, frequency);
  return {
    sparsityAt: () => targetSparsity,
    shouldPrune: (step) => shouldPruneAt(step, beginStep, endStep, frequency),
  };
}

/** s(t) = final + (initial - final) * (1 - p)^power, p = clamp((t - begin) / (end - begin), 0, 1). */
export function polynomialDecay(p: PolynomialDecayParams): PruningSchedule {
  const { initialSparsity, finalSparsity, beginStep, endStep, power = 3, frequency = 100 } = p;
  checkSparsity('initialSparsity', initialSparsity);
  checkSparsity('finalSparsity', finalSparsity);
  checkSteps(beginStep, endStep, frequency);
  if (endStep <= beginStep) throw invalid('endStep', `must be > beginStep for polynomial decay, got ${endStep}`);
  if (!Number.isFinite(power) || power <= 0) throw invalid('power', `must be > 0, got ${power}`);
  return {
    sparsityAt(step) {
      const progress = Math.min(1, Math.max(0, (step - beginStep) / (endStep - beginStep)));
      return finalSparsity + (initialSparsity - finalSparsity) * (1 - progress) ** power;
    },
    shouldPrune: (step) => shouldPruneAt(step, beginStep, endStep, frequency),
  };
}
