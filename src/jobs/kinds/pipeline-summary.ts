// A pipeline report people can read: the original model, then one row per step with the model it left (accuracy,
// split, sizes), and the end-to-end ratios original → final. Built from the step reports the pipeline already keeps.
import type { Measure } from './compression-report.ts';

export interface SummaryRow {
  /** 0 = the pipeline's input model, i = step i. */
  step: number;
  type: string;
  modelId: string;
  accuracy: number | null;
  split: string | null;
  params: number | null;
  nonzeroParams: number | null;
  sizeBytes: number | null;
  gzipBytes: number | null;
}

export interface PipelineSummary {
  rows: SummaryRow[];
  /** Original fp32 raw bytes / final gzip bytes (the figure the benchmarks quote), original gzip / final gzip, accuracy change. */
  totals: { sizeRatio: number | null; gzipRatio: number | null; accuracyChangePp: number | null };
}

interface StepLike {
  type: string;
  inputModelId: string;
  modelId: string | null;
  report: Record<string, unknown> | null;
}

const measureOf = (v: unknown): Measure | null => (v && typeof v === 'object' && 'gzipBytes' in v ? (v as Measure) : null);

function row(step: number, type: string, modelId: string, m: Measure | null): SummaryRow {
  return {
    step,
    type,
    modelId,
    accuracy: m?.accuracy ?? null,
    split: m?.split ?? null,
    params: m?.params ?? null,
    nonzeroParams: m?.nonzeroParams ?? null,
    sizeBytes: m?.sizeBytes ?? null,
    gzipBytes: m?.gzipBytes ?? null,
  };
}

/** Rows original → each step, and the totals; a step without measures (e.g. sensitivity) shows its model with nulls. */
export function pipelineSummary(originalModelId: string, steps: readonly StepLike[]): PipelineSummary {
  const first = steps.map((s) => measureOf(s.report?.before)).find((m) => m !== null) ?? null;
  const rows = [row(0, 'original', originalModelId, first)];
  steps.forEach((s, i) => rows.push(row(i + 1, s.type, s.modelId ?? s.inputModelId, measureOf(s.report?.after))));
  const last = [...rows].reverse().find((r) => r.step > 0 && r.gzipBytes !== null) ?? null;
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? a / b : null);
  const o = rows[0];
  return {
    rows,
    totals: {
      sizeRatio: ratio(o.sizeBytes, last?.gzipBytes),
      gzipRatio: ratio(o.gzipBytes, last?.gzipBytes),
      accuracyChangePp: o.accuracy !== null && last?.accuracy != null ? 100 * (last.accuracy - o.accuracy) : null,
    },
  };
}
