// Every raw SQL statement of the job system, in one place: the job state transitions (create, claim, heartbeat,
// progress, finish, requeue, retry, cancel, and the sweep of expired leases), each committing its row change and
// its state event (with NOTIFY) together; the event append; and the event tail used where NOTIFY cannot cross
// connections (PGlite). The Job table is the queue (docs/adr/0001-job-state.md); reads go through Prisma.

/** NOTIFY channel carrying { j: jobId, e: eventId, t: type, s?: status, c?: cancelRequested } for every JobEvent. */
export const EVENTS_CHANNEL = 'modelpress_job_events';

/** Leading comment of the statements workers send on their own (claim, sweep, heartbeat), not for a request. */
export const BACKGROUND_TAG = '/* modelpress:worker */';

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

export const SERVER_VERSION = `SELECT version() AS "version"`;

/** Inserts the state events of the rows of CTE `j` (columns "id", "data") and publishes them; used after a state UPDATE. */
const EVENTS_OF_J = `
e AS (
  INSERT INTO "JobEvent" ("jobId", "type", "data") SELECT j."id", 'state', j."data" FROM j ORDER BY j."id"
  RETURNING "id", "jobId", "type", "data"
), n AS (SELECT ${NOTIFY_EVENT} FROM e ORDER BY e."id")`;

const RESET_RUN = `"errorCode" = NULL, "errorMessage" = NULL, "cancelRequested" = false, "finishedAt" = NULL, "workerId" = NULL,
  "leaseExpiresAt" = NULL, "lostRuns" = 0, "runAfter" = now(),
  "resultModelIds" = '{}', "report" = NULL, "progressFraction" = 0, "progressEpoch" = NULL, "progressStep" = NULL, "etaSeconds" = NULL`;

/** $1 id, $2 type, $3 priority, $4 params json, $5 modelId, $6 teacherModelId, $7 datasetId, $8 idempotencyKey, $9 projectId */
export const INSERT_JOB = `
INSERT INTO "Job" ("id", "type", "status", "priority", "params", "modelId", "teacherModelId", "datasetId", "idempotencyKey", "projectId", "createdAt", "runAfter")
VALUES ($1, $2, 'queued', $3, $4::jsonb, $5, $6, $7, $8, $9, now(), now())`;

/** API retry: $1 id. Only from failed/canceled; a new attempt of the same job. */
export const RETRY_JOB = `
UPDATE "Job" SET "status" = 'queued', ${RESET_RUN}
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
 * Claims up to $1 queued jobs (highest priority, then oldest) for worker $2 on backend $3 with a lease of $4
 * seconds, with their "running" events, in one round trip. SKIP LOCKED: concurrent claimers never wait for each
 * other and never take the same row (FOR UPDATE re-checks the WHERE on the latest row version).
 */
export const CLAIM_JOBS = `${BACKGROUND_TAG}
WITH c AS (
  SELECT "id" FROM "Job" WHERE "status" = 'queued' AND "runAfter" <= now()
  ORDER BY "priority" DESC, "createdAt", "id" LIMIT $1
  FOR UPDATE SKIP LOCKED
), j AS (
  UPDATE "Job" SET "status" = 'running', "attempts" = "Job"."attempts" + 1, "workerId" = $2, "backend" = $3,
    "startedAt" = now(), "heartbeatAt" = now(), "leaseExpiresAt" = now() + make_interval(secs => $4::int), "finishedAt" = NULL
  FROM c WHERE "Job"."id" = c."id"
  RETURNING "Job"."id", "Job"."type", "Job"."params", "Job"."modelId", "Job"."teacherModelId", "Job"."datasetId",
    "Job"."attempts", "Job"."cancelRequested", "Job"."priority", "Job"."createdAt",
    jsonb_build_object('status', 'running', 'attempts', "Job"."attempts", 'workerId', $2::text, 'backend', $3::text) AS "data"
), ${EVENTS_OF_J}
SELECT j.*, (SELECT COUNT(*) FROM n) AS "events" FROM j ORDER BY j."priority" DESC, j."createdAt", j."id"`;

/**
 * Jobs whose lease ran out (their worker died, hung, or lost the database for longer than the lease): back to
 * 'queued' with a backoff of 2^lost - 1 s (0, 1, 3 … ≤ 60), or 'failed' once $1 runs in a row lost their worker,
 * with their state events. Any process may run it any time: the row locks make it exactly-once.
 */
export const SWEEP_EXPIRED = `${BACKGROUND_TAG}
WITH x AS (
  SELECT "id" FROM "Job" WHERE "status" = 'running' AND "leaseExpiresAt" < now() FOR UPDATE SKIP LOCKED
), j AS (
  UPDATE "Job" SET "lostRuns" = "Job"."lostRuns" + 1, "workerId" = NULL, "leaseExpiresAt" = NULL,
    "status" = CASE WHEN "Job"."lostRuns" + 1 > $1::int THEN 'failed' ELSE 'queued' END,
    "runAfter" = now() + make_interval(secs => LEAST(60, power(2, "Job"."lostRuns") - 1)),
    "finishedAt" = CASE WHEN "Job"."lostRuns" + 1 > $1::int THEN now() END,
    "errorCode" = CASE WHEN "Job"."lostRuns" + 1 > $1::int THEN 'JOB_TIMEOUT' END,
    "errorMessage" = CASE WHEN "Job"."lostRuns" + 1 > $1::int
      THEN format('the job lost its worker on %s attempts in a row (worker crashed, was killed or stopped heartbeating)', "Job"."lostRuns" + 1) END
  FROM x WHERE "Job"."id" = x."id"
  RETURNING "Job"."id", "Job"."status",
    CASE WHEN "Job"."status" = 'failed'
      THEN jsonb_build_object('status', 'failed', 'attempts', "Job"."attempts", 'reason', 'worker lost',
        'error', jsonb_build_object('code', "Job"."errorCode", 'message', "Job"."errorMessage"))
      ELSE jsonb_build_object('status', 'queued', 'attempts', "Job"."attempts", 'reason', 'worker lost') END AS "data"
), ${EVENTS_OF_J}
SELECT j."id", j."status", (SELECT COUNT(*) FROM n) AS "events" FROM j`;

const OWNED = `"id" = $1 AND "workerId" = $2 AND "attempts" = $3 AND "status" = 'running'`;

/**
 * Worker heartbeat: extends the lease of run ($1 jobId, $2 workerId, $3 attempt) to now + $4 s. No row: the run
 * is not this worker's anymore (its lease expired and the job was requeued) and the worker stops it.
 */
export const HEARTBEAT = `${BACKGROUND_TAG}
UPDATE "Job" SET "heartbeatAt" = now(), "leaseExpiresAt" = now() + make_interval(secs => $4::int) WHERE ${OWNED}
RETURNING "cancelRequested"`;

/** $1..$3 owner, $4 fraction, $5 epoch, $6 step, $7 etaSeconds */
export const UPDATE_PROGRESS = `
UPDATE "Job" SET "progressFraction" = $4, "progressEpoch" = $5, "progressStep" = $6, "etaSeconds" = $7 WHERE ${OWNED}`;

/**
 * Final state of an owned run and its state event, in one round trip. $1..$3 owner, $4 status, $5 errorCode,
 * $6 errorMessage, $7 resultModelIds, $8 report json, $9 event data json. No row: the run was not ours anymore.
 */
export const FINISH_JOB = `
WITH j AS (
  UPDATE "Job" SET "status" = $4, "finishedAt" = now(), "heartbeatAt" = now(), "leaseExpiresAt" = NULL, "errorCode" = $5, "errorMessage" = $6,
    "resultModelIds" = $7::text[], "report" = $8::jsonb, "lostRuns" = 0,
    "progressFraction" = CASE WHEN $4 = 'succeeded' THEN 1 ELSE "progressFraction" END
  WHERE ${OWNED}
  RETURNING "id", $9::jsonb AS "data"
), ${EVENTS_OF_J}
SELECT (SELECT COUNT(*) FROM n) AS "events" FROM j`;

/** Worker shutdown: $1..$3 owner. The job goes back to the queue at once, for another worker, with its event. */
export const REQUEUE_OWNED = `
WITH j AS (
  UPDATE "Job" SET "status" = 'queued', "workerId" = NULL, "leaseExpiresAt" = NULL, "runAfter" = now() WHERE ${OWNED}
  RETURNING "id", jsonb_build_object('status', 'queued', 'attempts', "attempts", 'reason', 'worker stopping') AS "data"
), ${EVENTS_OF_J}
SELECT (SELECT COUNT(*) FROM n) AS "events" FROM j`;

/**
 * A run that failed because its database connection was lost ($1..$3 owner, $4 lost retries): back to 'queued' like a
 * run whose worker died (the sweep's backoff, 2^lost - 1 s, and the same count: "lostRuns"), unless $4 runs in a
 * row were already lost; then no row, and the worker records the failure.
 */
export const REQUEUE_LOST = `
WITH j AS (
  UPDATE "Job" SET "status" = 'queued', "workerId" = NULL, "leaseExpiresAt" = NULL, "lostRuns" = "Job"."lostRuns" + 1,
    "runAfter" = now() + make_interval(secs => LEAST(60, power(2, "Job"."lostRuns") - 1))
  WHERE ${OWNED} AND "lostRuns" + 1 <= $4::int
  RETURNING "id", jsonb_build_object('status', 'queued', 'attempts', "attempts", 'reason', 'database connection lost') AS "data"
), ${EVENTS_OF_J}
SELECT (SELECT COUNT(*) FROM n) AS "events" FROM j`;

/** $1..$3 owner, $4 status: whether this run's outcome is already recorded (a write whose answer was lost did commit). */
export const RUN_RECORDED = `SELECT 1 AS "recorded" FROM "Job" WHERE "id" = $1 AND "workerId" = $2 AND "attempts" = $3 AND "status" = $4`;

/** $1 jobId, $2 points json [{ name, step, epoch, value }] */
export const INSERT_METRICS = `
INSERT INTO "MetricPoint" ("jobId", "name", "step", "epoch", "value", "time")
SELECT $1, x."name", x."step", x."epoch", x."value", now()
FROM json_to_recordset($2::json) AS x("name" text, "step" int, "epoch" int, "value" float8)`;
