-- The pg-boss job currently carrying this Job. A worker runs a Job only through this queue job, so a
-- stale queue job (left behind by cancel + retry, or a requeue) can never start a second run.
ALTER TABLE "Job" ADD COLUMN "queueJobId" TEXT;
