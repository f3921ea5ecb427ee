// A job's headline result, for tables (the dashboard's jobs list, compare views): the accuracy it ended with and the
// split it was measured on, the change in points, and how much smaller the result is (raw files and gzip), read
// from its report whatever the kind's shape — compression reports ({ before, after }), evaluate ({ accuracy, split }),
// train ({ test: { accuracy } }). Null when the report carries none of these (noop, sensitivity, no report yet).

export interface JobHeadline {
  /** Accuracy of the result (compression: `after`), null when not measured. */
  accuracy: number | null;
  /** The split `accuracy` was measured on (test, validation, train). */
  split: string | null;
  /** Accuracy change in percentage points, after − before (compression reports only). */
  accuracyChangePp: number | null;
  /** before.sizeBytes / after.sizeBytes: raw file size ratio. */
  sizeRatio: number | null;
  /** before.gzipBytes / after.gzipBytes: the gain of pruning and clustering shows here. */
  gzipRatio: number | null;
}

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const ratio = (a: number | null, b: number | null) => (a !== null && b ? a / b : null);

export function jobHeadline(report: Raw | null | undefined): JobHeadline | null {
  if (!report) return null;
  const before = obj(report.before);
  const after = obj(report.after);
  let h: JobHeadline;
  if (after) {
    const a = num(after.accuracy);
    const b = before ? num(before.accuracy) : null;
    h = {
      accuracy: a,
      split: a === null ? null : str(after.split),
      accuracyChangePp: a !== null && b !== null ? 100 * (a - b) : null,
      sizeRatio: before ? ratio(num(before.sizeBytes), num(after.sizeBytes)) : null,
      gzipRatio: before ? ratio(num(before.gzipBytes), num(after.gzipBytes)) : null,
    };
  } else if (num(report.accuracy) !== null) {
    h = { accuracy: num(report.accuracy), split: str(report.split), accuracyChangePp: null, sizeRatio: null, gzipRatio: null };
  } else if (num(obj(report.test)?.accuracy) !== null) {
    h = { accuracy: num(obj(report.test)!.accuracy), split: 'test', accuracyChangePp: null, sizeRatio: null, gzipRatio: null };
  } else return null;
  return Object.values(h).every((v) => v === null) ? null : h;
}
