// mercurius loaders: every relation of a page of rows is fetched in one batched call of a domain service (one
// SQL query, two with files), so a page of N jobs with their models, datasets and latest metrics costs a fixed
// number of queries whatever N is.
import type { MercuriusContext, MercuriusLoaders } from 'mercurius';
import type { MetricPointDto, MetricSeriesQuery } from '../jobs/queries.ts';
import type { Services } from '../runtime.ts';
import { scopeOf, type ScopedContext } from './scope.ts';
import type { JobDto } from '../schemas/job.ts';
import type { ModelDto } from '../schemas/model.ts';

type Query<T, P = Record<string, unknown>> = { obj: T; params: P };

/** Looks up the non-null ids with one `fetchMany` call and answers in the order asked (null for null ids). */
async function byIds<T>(ids: (string | null)[], fetchMany: (ids: string[]) => Promise<(T | null)[]>): Promise<(T | null)[]> {
  const wanted = [...new Set(ids.filter((id): id is string => id !== null))];
  const found = wanted.length ? await fetchMany(wanted) : [];
  const byId = new Map(wanted.map((id, i) => [id, found[i]]));
  return ids.map((id) => (id === null ? null : (byId.get(id) ?? null)));
}

/** Runs `load` once per distinct argument set (usually one), keeping the answers in query order. */
async function perParams<T, P, R>(queries: Query<T, P>[], load: (objs: T[], params: P) => Promise<R[]>): Promise<R[]> {
  const groups = new Map<string, number[]>();
  queries.forEach((q, i) => {
    const key = JSON.stringify(q.params ?? {});
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const out = new Array<R>(queries.length);
  for (const idx of groups.values()) {
    const answers = await load(
      idx.map((i) => queries[i].obj),
      queries[idx[0]].params,
    );
    idx.forEach((i, k) => (out[i] = answers[k]));
  }
  return out;
}

function toSeries(points: MetricPointDto[]) {
  const byName = new Map<string, MetricPointDto[]>();
  for (const p of points) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  return [...byName].map(([name, pts]) => ({ name, points: pts }));
}

/**
 * Every loader fetches through the caller's scope (the operation context's projectScope), so a relation to
 * another project's resource resolves to null / is left out, as a direct read would be NOT_FOUND.
 */
export function buildLoaders(services: Services): MercuriusLoaders {
  const queries = services.jobQueries;
  type Ctx = MercuriusContext & ScopedContext;
  const models = (ctx: Ctx, ids: (string | null)[]) => byIds(ids, (x) => services.models.getMany(scopeOf(ctx), x));
  const datasets = (ctx: Ctx, ids: (string | null)[]) => byIds(ids, (x) => services.datasets.getMany(scopeOf(ctx), x));
  const jobInputs = {
    model: (qs: Query<JobDto>[], ctx: Ctx) =>
      models(
        ctx,
        qs.map((q) => q.obj.modelId),
      ),
    teacherModel: (qs: Query<JobDto>[], ctx: Ctx) =>
      models(
        ctx,
        qs.map((q) => q.obj.teacherModelId),
      ),
    dataset: (qs: Query<JobDto>[], ctx: Ctx) =>
      datasets(
        ctx,
        qs.map((q) => q.obj.datasetId),
      ),
  };
  return {
    Job: {
      ...jobInputs,
      async results(qs: Query<JobDto>[], ctx: Ctx) {
        const found = await models(
          ctx,
          qs.flatMap((q) => q.obj.resultModelIds),
        );
        let at = 0;
        return qs.map((q) => found.slice(at, (at += q.obj.resultModelIds.length)).filter((m): m is ModelDto => m !== null));
      },
      latestMetrics: (qs: Query<JobDto>[]) => queries.latestMetrics(qs.map((q) => q.obj.id)),
      metrics: (qs: Query<JobDto, MetricSeriesQuery>[]) =>
        perParams(qs, async (jobs, params) =>
          (
            await queries.metricPoints(
              jobs.map((j) => j.id),
              params,
            )
          ).map(toSeries),
        ),
    },
    // Job.inputs resolves to the job itself, typed JobInputs.
    JobInputs: jobInputs,
    Model: {
      parent: (qs: Query<ModelDto>[], ctx: Ctx) =>
        models(
          ctx,
          qs.map((q) => q.obj.parentModelId),
        ),
      producedBy: (qs: Query<ModelDto>[], ctx: Ctx) =>
        byIds(
          qs.map((q) => q.obj.producedByJobId),
          (x) => queries.getMany(scopeOf(ctx), x),
        ),
      ancestors: (qs: Query<ModelDto, { max: number }>[], ctx: Ctx) =>
        perParams(qs, async (objs, { max }) => {
          const chains = await services.models.ancestorIds(
            objs.map((m) => m.id),
            max,
          );
          const found = await models(ctx, chains.flat());
          let at = 0;
          return chains.map((c) => found.slice(at, (at += c.length)).filter((m): m is ModelDto => m !== null));
        }),
    },
  };
}
