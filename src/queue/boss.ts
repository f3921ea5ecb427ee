// The job queue: pg-boss on the same database as Prisma. One queue carries every job type (data = { jobId });
// pg-boss gives exactly-once claiming (SKIP LOCKED), priority, and crash recovery: an active queue job whose
// worker stops beating expires (expireSeconds) and is retried up to CRASH_RETRIES times, then moved to the
// dead-letter queue, which workers drain to mark the job failed. Ordinary job failures never use pg-boss retries.
import PgBoss from 'pg-boss';
import type { Config } from '../config.ts';
import type { SqlClient, SqlPool } from './pool.ts';
import { BOSS_SCHEMA } from './sql.ts';

export const QUEUE = 'modelpress-jobs';
export const DEAD_QUEUE = 'modelpress-jobs-dead';
/** How many times a job whose worker died is handed to another worker. */
export const CRASH_RETRIES = 3;

export interface QueuedJob {
  queueJobId: string;
  jobId: string;
}

export class JobQueue {
  private constructor(
    private readonly boss: PgBoss,
    private readonly settings: Config['worker'],
  ) {}

  static async start(pool: SqlPool, settings: Config['worker'], onError: (err: Error) => void): Promise<JobQueue> {
    const boss = new PgBoss({
      db: pool,
      schema: BOSS_SCHEMA,
      schedule: false,
      supervise: true,
      // Expiry is only noticed by maintenance: run it often enough that a dead worker's job moves on quickly.
      maintenanceIntervalSeconds: Math.max(1, Math.min(60, Math.ceil(settings.expireSeconds / 3))),
    });
    boss.on('error', onError);
    await boss.start();
    for (const [name, deadLetter] of [
      [DEAD_QUEUE, undefined],
      [QUEUE, DEAD_QUEUE],
    ] as const) {
      if (await boss.getQueue(name)) continue;
      await boss.createQueue(name, { name, policy: 'standard', ...(deadLetter ? { deadLetter } : {}) }).catch(async (err: unknown) => {
        if (!(await boss.getQueue(name))) throw err; // lost a creation race with another process: fine
      });
    }
    return new JobQueue(boss, settings);
  }

  /** Enqueues a run of `jobId` as queue job `queueJobId`, inside the caller's transaction `tx` when given. */
  async send(jobId: string, priority: number, queueJobId: string, tx?: SqlClient): Promise<void> {
    const id = await this.boss.send(
      QUEUE,
      { jobId },
      {
        db: tx,
        id: queueJobId,
        priority,
        retryLimit: CRASH_RETRIES,
        retryDelay: 0,
        expireInSeconds: this.settings.expireSeconds,
        deadLetter: DEAD_QUEUE,
      },
    );
    if (!id) throw new Error(`pg-boss refused job ${jobId}`);
  }

  /** Claims up to `limit` queue jobs (highest priority, then oldest); each is claimed by exactly one caller. */
  async fetch(limit: number): Promise<QueuedJob[]> {
    return this.fetchFrom(QUEUE, limit);
  }

  /** Queue jobs whose workers died CRASH_RETRIES + 1 times. */
  async fetchDead(limit: number): Promise<QueuedJob[]> {
    return this.fetchFrom(DEAD_QUEUE, limit);
  }

  private async fetchFrom(name: string, limit: number): Promise<QueuedJob[]> {
    const jobs = await this.boss.fetch<{ jobId: string }>(name, { batchSize: limit, priority: true });
    return jobs.map((j) => ({ queueJobId: j.id, jobId: j.data.jobId }));
  }

  async complete(queueJobId: string, dead = false): Promise<void> {
    await this.boss.complete(dead ? DEAD_QUEUE : QUEUE, queueJobId);
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: false, close: true, wait: true });
  }
}
