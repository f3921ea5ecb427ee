// Read-only batch queries over jobs and their metrics, for GraphQL loaders: each call is one SQL query whatever
// the number of job ids, so a page of N jobs costs the same as one. (JobService holds the single-job reads and
// every write; these only read.) getMany takes the caller's scope; the per-job reads take ids of jobs it returned.
import type { Db } from '../db/prisma.ts';
import { inScope, type ProjectScope } from '../domain/projects.ts';
import type { JobDto } from '../schemas/job.ts';
import { toJobDto } from './dto.ts';

export interface MetricPointDto {
  name: string;
  step: number;
  epoch: number | null;
  value: number;
  time: string;
}

export interface MetricSeriesQuery {
  /** Only these series (all when omitted). */
  names?: readonly string[] | null;
  fromStep?: number | null;
  /** Only the last N points of each series. */
  last?: number | null;
}

interface MetricRow {
  jobId: string;
  name: string;
  step: number;
  epoch: number | null;
  value: number;
  time: Date;
}

const toPoint = (r: MetricRow): MetricPointDto => ({ name: r.name, step: r.step, epoch: r.epoch, value: r.value, time: r.time.toISOString() });

function groupByJob<T>(jobIds: readonly string[], rows: (T & { jobId: string })[], map: (r: T & { jobId: string }) => unknown) {
  const byJob = new Map<string, unknown[]>();
  for (const r of rows) {
    const list = byJob.get(r.jobId) ?? [];
    list.push(map(r));
    byJob.set(r.jobId, list);
  }
  return jobIds.map((id) => byJob.get(id) ?? []);
}

export class JobQueries {
  constructor(private readonly db: Db) {}

  /** The jobs with these ids in the order asked; null where there is none. */
  async getMany(scope: ProjectScope, ids: readonly string[]): Promise<(JobDto | null)[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.job.findMany({ where: { id: { in: [...new Set(ids)] }, ...inScope(scope) } });
    const byId = new Map(rows.map((r) => [r.id, toJobDto(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** For each job: the last point (highest step) of each of its metric series, by name. */
  async latestMetrics(jobIds: readonly string[]): Promise<MetricPointDto[][]> {
    if (jobIds.length === 0) return [];
    const rows = await this.db.$queryRaw<MetricRow[]>`
      SELECT DISTINCT ON ("jobId", "name") "jobId", "name", "step", "epoch", "value", "time"
      FROM "MetricPoint" WHERE "jobId" = ANY(${[...new Set(jobIds)]}::text[])
      ORDER BY "jobId", "name", "step" DESC, "id" DESC`;
    return groupByJob(jobIds, rows, toPoint) as MetricPointDto[][];
  }

  /** For each job: its points (filtered as asked) ordered by (name, step), one query for all the jobs. */
  async metricPoints(jobIds: readonly string[], q: MetricSeriesQuery): Promise<MetricPointDto[][]> {
    if (jobIds.length === 0) return [];
    const names = q.names ?? null;
    const rows = await this.db.$queryRaw<MetricRow[]>`
      SELECT "jobId", "name", "step", "epoch", "value", "time" FROM (
        SELECT *, row_number() OVER (PARTITION BY "jobId", "name" ORDER BY "step" DESC, "id" DESC) AS "fromEnd"
        FROM "MetricPoint"
        WHERE "jobId" = ANY(${[...new Set(jobIds)]}::text[])
          AND (${names}::text[] IS NULL OR "name" = ANY(${names}::text[]))
          AND (${q.fromStep ?? null}::int IS NULL OR "step" >= ${q.fromStep ?? null}::int)
      ) p
      WHERE ${q.last ?? null}::int IS NULL OR "fromEnd" <= ${q.last ?? null}::int
      ORDER BY "jobId", "name", "step", "fromEnd" DESC`;
    return groupByJob(jobIds, rows, toPoint) as MetricPointDto[][];
  }

  /** Id of the job's newest event ('0' when none): where a live feed that starts "now" resumes from. */
  async lastEventId(jobId: string): Promise<string> {
    const row = await this.db.jobEvent.findFirst({ where: { jobId }, orderBy: { id: 'desc' }, select: { id: true } });
    return row ? row.id.toString() : '0';
  }
}
