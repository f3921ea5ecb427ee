// Subscription bridge: jobUpdated and jobMetrics read the job's event feed (JobService.events → JobEvents), the
// same feed the REST SSE stream serves. It is fed by PostgreSQL NOTIFY (or the event-table tail on PGlite), so
// events written by a worker in another process arrive here too.
import { AppError } from '../errors.ts';
import type { Services } from '../runtime.ts';
import { TERMINAL_STATUSES, type JobDto, type JobEventDto } from '../schemas/job.ts';
import type { ProjectScope } from '../domain/projects.ts';
import { scopeOf, type ScopedContext } from './scope.ts';
import type { SlotContext, SubscriptionSlots } from './subscription-limits.ts';

/**
 * An iterator over `run`'s generator whose return() (the client unsubscribed or disconnected) aborts at once,
 * even while the generator is waiting for the next event — a plain generator would only stop at its next yield.
 */
function abortable<T>(run: (signal: AbortSignal) => AsyncGenerator<T>, release: () => void): AsyncIterableIterator<T> {
  const controller = new AbortController();
  const gen = run(controller.signal);
  return {
    async next() {
      try {
        const r = await gen.next();
        if (r.done) release();
        return r;
      } catch (err) {
        release();
        throw err;
      }
    },
    async return() {
      release();
      controller.abort();
      void gen.return(undefined).catch(() => {});
      return { done: true, value: undefined };
    },
    async throw(err) {
      release();
      controller.abort();
      return gen.throw(err);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

interface PointData {
  name: string;
  step: number;
  epoch?: number | null;
  value: number;
}

/** Runs `start` holding a subscription slot; the slot goes back when the subscription ends or `start` fails. */
async function withSlot<T>(slots: SubscriptionSlots, ctx: SlotContext, start: (release: () => void) => Promise<T>): Promise<T> {
  const release = slots.acquire(ctx);
  try {
    return await start(release);
  } catch (err) {
    release();
    // Subscription errors skip the errorFormatter: carry the code (e.g. NOT_FOUND for another project's job) the way mercurius passes it on.
    if (err instanceof AppError) Object.assign(err, { extensions: { code: err.code, status: err.status } });
    throw err;
  }
}

export function subscriptionResolvers(services: Services, slots: SubscriptionSlots) {
  const { jobs, jobQueries: queries } = services;
  // jobUpdated subscribers of one job read its snapshot once per event, not once each: reads in flight by
  // (scope, job, event). A read started after the event was stored is as fresh as each subscriber's own would be.
  const snapshots = new Map<string, Promise<JobDto>>();
  const snapshotAfter = (scope: ProjectScope, id: string, eventId: string) => {
    const key = `${scope.projectId ?? '*'}:${id}:${eventId}`;
    let read = snapshots.get(key);
    if (!read) {
      read = jobs.get(scope, id).finally(() => snapshots.delete(key));
      snapshots.set(key, read);
    }
    return read;
  };
  return {
    jobUpdated: {
      subscribe: (_root: unknown, { id }: { id: string }, ctx: SlotContext & ScopedContext) =>
        withSlot(slots, ctx, async (release) => {
          const scope = scopeOf(ctx);
          // The job must be the caller's (NOT_FOUND otherwise) before anything about it is read.
          await jobs.get(scope, id);
          // Resume point first, then the snapshot: an event in between only causes one more (fresh) snapshot.
          const afterId = await queries.lastEventId(id);
          const first = await jobs.get(scope, id);
          return abortable(async function* (signal) {
            yield { jobUpdated: first };
            if (TERMINAL_STATUSES.includes(first.status)) return;
            for await (const e of await jobs.events(scope, id, { afterId, signal })) {
              if (e.type === 'state' || e.type === 'progress') yield { jobUpdated: await snapshotAfter(scope, id, e.id) };
            }
          }, release);
        }),
    },
    jobMetrics: {
      subscribe: (
        _root: unknown,
        { id, names, fromStep }: { id: string; names?: string[] | null; fromStep?: number | null },
        ctx: SlotContext & ScopedContext,
      ) =>
        withSlot(slots, ctx, async (release) => {
          const scope = scopeOf(ctx);
          const job = await jobs.get(scope, id);
          const replay = fromStep !== undefined && fromStep !== null;
          const afterId = replay ? undefined : await queries.lastEventId(id);
          const ended = !replay && TERMINAL_STATUSES.includes(job.status);
          const wanted = (p: PointData) => (!names || names.includes(p.name)) && (!replay || p.step >= fromStep);
          const toBatch = (e: JobEventDto) => ({
            jobId: id,
            points: ((e.data.points ?? []) as PointData[]).filter(wanted).map((p) => ({ ...p, epoch: p.epoch ?? null, time: e.time })),
          });
          return abortable(async function* (signal) {
            if (ended) return;
            for await (const e of await jobs.events(scope, id, { afterId, signal })) {
              if (e.type !== 'metric') continue;
              const batch = toBatch(e);
              if (batch.points.length) yield { jobMetrics: batch };
            }
          }, release);
        }),
    },
  };
}
