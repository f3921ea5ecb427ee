// The lease heartbeat thread of a worker process (started by heartbeat.ts): renews the lease of every run the
// worker's main thread registered, on its own database connection and its own event loop, so a job that keeps the
// main thread busy with long synchronous work (a big tfjs kernel, a model conversion, a machine so loaded that a
// step takes minutes) keeps its lease. Each renewal's answer (still ours? cancel requested?) goes back to the main
// thread, which acts on it when it is free. The lease still lapses when the process dies, and when the main thread
// has shown no sign of life for `stallMs` (hung, not busy): then another worker may take the job over.
import { parentPort, workerData } from 'node:worker_threads';
import { JobQueue, type RunOwner } from '../queue/job-queue.ts';
import { SqlPool } from '../queue/pool.ts';
import type { HeartbeatThreadData, ToHeartbeatThread, FromHeartbeatThread } from './heartbeat.ts';

const port = parentPort!;
const data = workerData as HeartbeatThreadData;
const mainAlive = new Float64Array(data.alive);
const pool = new SqlPool(data.databaseUrl, 1, data.db);
const queue = new JobQueue(pool, { expireSeconds: data.expireSeconds });
const runs = new Map<string, RunOwner>();
const post = (m: FromHeartbeatThread) => port.postMessage(m);
let beating = false;
let stalledSince = 0;

async function beatAll(): Promise<void> {
  if (beating) return; // the previous round is still waiting on the database
  beating = true;
  try {
    const silentMs = Date.now() - mainAlive[0];
    if (silentMs > data.stallMs) {
      // No renewal: the lease runs out and the sweep hands the job to another worker.
      if (stalledSince === 0) post({ type: 'stalled', silentMs, jobIds: [...runs.keys()] });
      stalledSince = Date.now();
      return;
    }
    stalledSince = 0;
    for (const owner of [...runs.values()]) {
      try {
        const r = await queue.heartbeat(owner);
        // Removed meanwhile (the run ended): its answer no longer matters.
        if (runs.get(owner.jobId) === owner) post({ type: 'beat', jobId: owner.jobId, ...r });
      } catch (err) {
        post({ type: 'failed', jobId: owner.jobId, message: err instanceof Error ? err.message : String(err) });
      }
    }
  } finally {
    beating = false;
  }
}

const timer = setInterval(() => void beatAll(), data.intervalMs);
port.on('message', (m: ToHeartbeatThread) => {
  if (m.type === 'add') runs.set(m.owner.jobId, m.owner);
  else if (m.type === 'remove') runs.delete(m.jobId);
  else {
    clearInterval(timer);
    runs.clear();
    void pool.close().finally(() => port.close());
  }
});
post({ type: 'started' });
