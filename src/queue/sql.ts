// Every raw SQL statement of the job system, in one place: job state transitions (raw so that a row change, its
// event and its queue job commit together), event append + NOTIFY, the event tail used where NOTIFY cannot cross
// connections (PGlite), worker heartbeats (which also push back pg-boss's expiry), and the sweep that requeues
// jobs whose worker stopped beating. Reads go through Prisma; the queue itself is pg-boss.

/** NOTIFY channel carrying { j: jobId, e: eventId, t: type, s?: status, c?: cancelRequested } for every JobEvent. */
export const EVENTS_CHANNEL = 'modelpress_job_events';

/** pg-boss's schema (its default). */
export const BOSS_SCHEMA = 'pgboss';

/** pg_notify of one inserted JobEvent row aliased `e`. */
const NOTIFY_EVENT = `pg_notify('${EVENTS_CHANNEL}', json_build_object(
    'j', e."jobId", 'e', e."id"::text, 't', e."type",
    's', e."data"->>'status', 'c', (e."data"->>'cancelRequested')::boolean)::text)`;

/** $1 jobId, $2 type, $3 level, $4 message, $5 data (json text). One round trip: insert, then publish. */
export const APPEND_EVENT = `
WITH e AS (
  INSERT INTO "JobEvent" ("jobId", "type", "level", "message", "data")
  VALUES ($1, $2, $3, $4, $5::jsonb)
  RETURNING "id", "jobId", "type", "data", "createdAt"
)
SELECT e."id"::text AS "id", e."createdAt" AS "createdAt", ${NOTIFY_EVENT} AS "notified"
FROM e`;

/** $1 last seen event id: the notifications a LISTEN connection would have carried, in commit order on PGlite. */
export const TAIL_EVENTS = `
SELECT "id"::text AS "e", "jobId" AS "j", "type" AS "t", "data"->>'status' AS "s", ("data"->>'cancelRequested')::boolean AS "c"
FROM "JobEvent" WHERE "id" > $1::bigint ORDER BY "id" LIMIT 1000`;

export const LAST_EVENT_ID = `SELECT COALESCE(MAX("id"), 0)::text AS "id" FROM "JobEvent"`;

/**
 * Worker heartbeat. $1 jobId, $2 workerId, $3 attempt, $4 queue job id, $5 expire seconds, $6 queue name.
 * Ownership is (workerId, attempt): a worker whose job was taken over by another gets owned = 0 and stops.
 * pg-boss expires an active job at started_on + expire_in; moving expire_in keeps a live job from expiring.
 */
export const HEARTBEAT = `
WITH j AS (
  UPDATE "Job" SET "heartbeatAt" = now()
  WHERE "id" = $1 AND "workerId" = $2 AND "attempts" = $3 AND "status" = 'running'
  RETURNING "cancelRequested"
), b AS (
  UPDATE ${BOSS_SCHEMA}.job SET expire_in = (now() - started_on) + make_interval(secs => $5::int)
  WHERE name = $6 AND id = $4::uuid AND state = 'active'
  RETURNING id
)
SELECT (SELECT COUNT(*) FROM j)::int AS "owned", COALESCE((SELECT "cancelRequested" FROM j), false) AS "cancelRequested"`;

/** $1 seconds without a heartbeat after which a running job's worker is presumed dead. Returns the requeued ids. */
export const REQUEUE_STALE = `
UPDATE "Job" SET "status" = 'queued', "workerId" = NULL
WHERE "status" = 'running' AND "heartbeatAt" < now() - make_interval(secs => $1::int)
RETURNING "id", "attempts"`;

export const SERVER_VERSION = `SELECT version() AS "version"`;

const RESET_RUN = `"errorCode" = NULL, "errorMessage" = NULL, "cancelRequested" = false, "finishedAt" = NULL, "workerId" = NULL,
  "resultModelIds" = '{}', "report" = NULL, "progressFraction" = 0, "progressEpoch" = NULL, "progressStep" = NULL, "etaSeconds" = NULL`;

/** $1 id, $2 type, $3 priority, $4 params json, $5 modelId, $6 teacherModelId, $7 datasetId, $8 idempotencyKey, $9 queueJobId */
export const INSERT_JOB = `
INSERT INTO "Job" ("id", "type", "status", "priority", "params", "modelId", "teacherModelId", "datasetId", "idempotencyKey", "queueJobId", "createdAt")
VALUES ($1, $2, 'queued', $3, $4::jsonb, $5, $6, $7, $8, $9, now())`;

/** API retry: $1 id, $2 new queueJobId. Only from failed/canceled. */
export const RETRY_JOB = `
UPDATE "Job" SET "status" = 'queued', "queueJobId" = $2, ${RESET_RUN}
WHERE "id" = $1 AND "status" IN ('failed', 'canceled')
RETURNING "priority", "attempts"`;

/** $1 id: a queued job is canceled at once. */
export const CANCEL_QUEUED = `
UPDATE "Job" SET "status" = 'canceled', "finishedAt" = now(), "errorCode" = 'JOB_CANCELED', "errorMessage" = 'canceled before it started'
WHERE "id" = $1 AND "status" = 'queued'
RETURNING "attempts"`;

/** $1 id: a running job is flagged; its worker aborts at the next step. */
export const REQUEST_CANCEL = `
UPDATE "Job" SET "cancelRequested" = true WHERE "id" = $1 AND "status" = 'running' RETURNING "attempts"`;

/**
 * Worker claim of queue job $2 for job $1 by worker $3 on backend $4, with its state event(s), in one round trip.
 * Only the job's current queue job may start it (a stale one gets no row); 'running' is allowed because a dead
 * worker's job is re-claimed — if the sweep has not marked it queued yet, a "queued (worker lost)" event is
 * recorded before the "running" one.
 */
export const CLAIM_JOB = `
WITH prev AS (SELECT "status" FROM "Job" WHERE "id" = $1 FOR UPDATE),
j AS (
  UPDATE "Job" SET "status" = 'running', "attempts" = "Job"."attempts" + 1, "workerId" = $3, "backend" = $4,
    "startedAt" = now(), "heartbeatAt" = now(), "finishedAt" = NULL
  FROM prev
  WHERE "Job"."id" = $1 AND "Job"."queueJobId" = $2 AND "Job"."status" IN ('queued', 'running')
  RETURNING "Job"."id", "Job"."type", "Job"."params", "Job"."modelId", "Job"."teacherModelId", "Job"."datasetId",
    "Job"."attempts", "Job"."cancelRequested", "Job"."priority", prev."status" AS "previousStatus"
), e AS (
  INSERT INTO "JobEvent" ("jobId", "type", "data")
  SELECT x."jobId", 'state', x."data" FROM (
    SELECT j."id" AS "jobId", 1 AS ord, jsonb_build_object('status', 'queued', 'attempts', j."attempts" - 1, 'reason', 'worker lost') AS "data"
    FROM j WHERE j."previousStatus" = 'running'
    UNION ALL
    SELECT j."id", 2, jsonb_build_object('status', 'running', 'attempts', j."attempts", 'workerId', $3::text, 'backend', $4::text) FROM j
  ) x ORDER BY x.ord
  RETURNING "id", "jobId", "type", "data"
), n AS (SELECT ${NOTIFY_EVENT} FROM e ORDER BY e."id")
SELECT j.*, (SELECT COUNT(*) FROM n) AS "events" FROM j`;

const OWNED = `"id" = $1 AND "workerId" = $2 AND "attempts" = $3 AND "status" = 'running'`;

/** $1..$3 owner, $4 fraction, $5 epoch, $6 step, $7 etaSeconds */
export const UPDATE_PROGRESS = `
UPDATE "Job" SET "progressFraction" = $4, "progressEpoch" = $5, "progressStep" = $6, "etaSeconds" = $7 WHERE ${OWNED}`;

/**
 * Final state of an owned run and its state event, in one round trip. $1..$3 owner, $4 status, $5 errorCode,
 * $6 errorMessage, $7 resultModelIds, $8 report json, $9 event data json. No row: the run was not ours anymore.
 */
export const FINISH_JOB = `
WITH j AS (
  UPDATE "Job" SET "status" = $4, "finishedAt" = now(), "heartbeatAt" = now(), "errorCode" = $5, "errorMessage" = $6,
    "resultModelIds" = $7::text[], "report" = $8::jsonb,
    "progressFraction" = CASE WHEN $4 = 'succeeded' THEN 1 ELSE "progressFraction" END
  WHERE ${OWNED}
  RETURNING "id", "attempts"
), e AS (
  INSERT INTO "JobEvent" ("jobId", "type", "data") SELECT j."id", 'state', $9::jsonb FROM j
  RETURNING "id", "jobId", "type", "data"
)
SELECT j."attempts", (SELECT ${NOTIFY_EVENT} FROM e) AS "notified" FROM j`;

/** Worker shutdown: $1..$3 owner, $4 new queueJobId. The job goes back to the queue as a fresh run. */
export const REQUEUE_OWNED = `
UPDATE "Job" SET "status" = 'queued', "queueJobId" = $4, "workerId" = NULL WHERE ${OWNED} RETURNING "priority", "attempts"`;

/** A queue job dead-lettered after CRASH_RETRIES lost workers: $1 id, $2 queueJobId, $3 message. */
export const FAIL_LOST = `
UPDATE "Job" SET "status" = 'failed', "finishedAt" = now(), "errorCode" = 'JOB_TIMEOUT', "errorMessage" = $3, "workerId" = NULL
WHERE "id" = $1 AND "queueJobId" = $2 AND "status" IN ('queued', 'running')
RETURNING "attempts"`;

/** $1 jobId, $2 points json [{ name, step, epoch, value }] */
export const INSERT_METRICS = `
INSERT INTO "MetricPoint" ("jobId", "name", "step", "epoch", "value", "time")
SELECT $1, x."name", x."step", x."epoch", x."value", now()
FROM json_to_recordset($2::json) AS x("name" text, "step" int, "epoch" int, "value" float8)`;
