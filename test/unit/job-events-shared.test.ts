// JobEvents streams of one job share their reads (issue 18's subscription flood: 100 subscribers used to cost 100 SQL
// queries per event): streams woken by one notification join one read of the same page, and a stream never joins a
// read that started before a notification it was woken by (it would miss that event). A fake event table and
// notification source, no database.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobEvents } from '../../src/jobs/events.ts';
import type { Db } from '../../src/db/prisma.ts';
import type { JobNotification, NotificationSource } from '../../src/queue/notifications.ts';
import type { SqlClient } from '../../src/queue/pool.ts';

function fakeFeed() {
  const rows: { id: bigint; jobId: string; type: string; level: null; message: null; data: unknown; createdAt: Date }[] = [];
  let reads = 0;
  let notify: (n: JobNotification) => void = () => {};
  const db = {
    jobEvent: {
      findMany: async ({ where, take }: { where: { jobId: string; id: { gt: bigint } }; take: number }) => {
        reads++;
        // What the table holds when the query starts; the answer comes a turn of the event loop later.
        const found = rows.filter((r) => r.jobId === where.jobId && r.id > where.id.gt).slice(0, take);
        await new Promise((r) => setImmediate(r));
        return found;
      },
    },
  } as unknown as Db;
  const source: NotificationSource = {
    mode: 'tail',
    start: async (onNotification) => {
      notify = onNotification;
    },
    close: async () => {},
  };
  const append = (jobId: string, step: number) => {
    const id = BigInt(rows.length + 1);
    rows.push({ id, jobId, type: 'progress', level: null, message: null, data: { step }, createdAt: new Date() });
    notify({ jobId, eventId: String(id), type: 'progress', status: null, cancelRequested: null });
  };
  return { db, source, append, reads: () => reads };
}

test('twenty streams of one job cost one read per event, and each sees every event once, in order', async () => {
  const feed = fakeFeed();
  const events = new JobEvents(feed.db, {} as SqlClient, feed.source);
  await events.start();
  const abort = new AbortController();
  const STREAMS = 20;
  const EVENTS = 5;
  const seen: number[][] = Array.from({ length: STREAMS }, () => []);
  let waiting: (() => void) | null = null;
  const all = seen.map(async (into) => {
    for await (const e of events.stream('job-1', { afterId: '0', signal: abort.signal })) {
      into.push(e.data.step as number);
      if (seen.every((s) => s.length === EVENTS)) waiting?.();
    }
  });
  const done = new Promise<void>((r) => (waiting = r));
  await new Promise((r) => setImmediate(r));
  const before = feed.reads();
  for (let step = 1; step <= EVENTS; step++) {
    feed.append('job-1', step);
    await new Promise((r) => setTimeout(r, 0));
  }
  await done;
  abort.abort();
  await Promise.all(all);
  await events.close();
  for (const s of seen) assert.deepEqual(s, [1, 2, 3, 4, 5]);
  assert.ok(before <= 2, `first reads of ${STREAMS} streams: ${before}`); // they start on one page read
  const perEvent = (feed.reads() - before) / EVENTS;
  assert.ok(perEvent <= 2, `reads per event for ${STREAMS} streams: ${perEvent}`);
});

test('a stream that started after a newer event does not join a read that started before it', async () => {
  const feed = fakeFeed();
  const events = new JobEvents(feed.db, {} as SqlClient, feed.source);
  await events.start();
  const abort = new AbortController();
  const collect = async (into: number[]) => {
    for await (const e of events.stream('job-2', { afterId: '0', signal: abort.signal })) {
      into.push(e.data.step as number);
      if (a.length === 2 && b.length === 2) wake();
    }
  };
  const a: number[] = [];
  const b: number[] = [];
  let wake = () => {};
  const both = new Promise<void>((r) => (wake = r));
  feed.append('job-2', 1);
  const runA = collect(a); // reads page 0 now: event 1
  feed.append('job-2', 2); // notified while A's read is in flight
  const runB = collect(b); // same page, but it must see event 2: a read of its own
  assert.equal(feed.reads(), 2);
  await both;
  abort.abort();
  await Promise.all([runA, runB]);
  await events.close();
  assert.deepEqual(a, [1, 2]);
  assert.deepEqual(b, [1, 2]);
});
