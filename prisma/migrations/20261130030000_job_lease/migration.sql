-- The Job table is the queue (docs/adr/0001-job-state.md): a lease per running job, renewed by its worker's
-- heartbeat; the earliest time a requeued job may run again (backoff after a lost worker); and how many runs in a
-- row lost their worker. The pg-boss job reference goes with pg-boss.
ALTER TABLE "Job" ADD COLUMN "leaseExpiresAt" TIMESTAMP(3),
  ADD COLUMN "runAfter" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  ADD COLUMN "lostRuns" INTEGER NOT NULL DEFAULT 0;

-- Jobs running under a worker of the previous version: a lease from their last heartbeat (the old default expiry).
UPDATE "Job" SET "leaseExpiresAt" = COALESCE("heartbeatAt", CURRENT_TIMESTAMP) + interval '30 seconds' WHERE "status" = 'running';

ALTER TABLE "Job" DROP COLUMN "queueJobId";
