// /metrics in the Prometheus text format (prom-client), one registry per app: HTTP latency histograms by route,
// bytes received by uploads, and — read from the database at scrape time, so every API process reports the
// whole system — job counts by status, queue depth and the durations of jobs finished since the last scrape.
// Exposure follows MODELPRESS_METRICS: on (open), auth (a key with read scope, enforced by the security plugin's
// auth hook; see requiredScope), off. Not encapsulated (fastify-plugin): the latency hook times every route.
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SecurityConfig } from '../config.ts';
import type { Db } from '../db/prisma.ts';
import type { SqlClient } from '../queue/pool.ts';
import { SECURITY_PLUGIN } from '../security/plugin.ts';

/** What the collectors read at scrape time. */
export interface MetricsSources {
  db: Db;
  sql: SqlClient;
}

export interface MetricsPluginOptions extends MetricsSources {
  exposure: SecurityConfig['metrics'];
}

const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'];

export function createMetrics({ db, sql }: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'modelpress_' });
  const httpDuration = new Histogram({
    name: 'modelpress_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [registry],
  });
  const uploadBytes = new Counter({
    name: 'modelpress_upload_bytes_total',
    help: 'Bytes of accepted uploads (request Content-Length), by resource',
    labelNames: ['resource'],
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: 'modelpress_job_duration_seconds',
    help: 'Run time (started → finished) of jobs finished since this process started, by type and status',
    labelNames: ['type', 'status'],
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
    registers: [registry],
  });
  let finishedSince = new Date();
  new Gauge({
    name: 'modelpress_jobs',
    help: 'Jobs by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const rows = await db.job.groupBy({ by: ['status'], _count: { _all: true } });
      const counts = new Map(rows.map((r) => [r.status, r._count._all]));
      for (const s of new Set([...JOB_STATUSES, ...counts.keys()])) this.set({ status: s }, counts.get(s) ?? 0);
      // Durations of jobs that finished since the previous scrape, observed once each.
      const done = await db.job.findMany({
        where: { finishedAt: { gt: finishedSince }, startedAt: { not: null } },
        select: { type: true, status: true, startedAt: true, finishedAt: true },
        orderBy: { finishedAt: 'asc' },
        take: 10_000,
      });
      for (const j of done) jobDuration.observe({ type: j.type, status: j.status }, (j.finishedAt!.getTime() - j.startedAt!.getTime()) / 1000);
      if (done.length) finishedSince = done[done.length - 1].finishedAt!;
    },
  });
  new Gauge({
    name: 'modelpress_queue_depth',
    help: 'Jobs waiting for a worker (queued, including those in a retry backoff)',
    registers: [registry],
    async collect() {
      const { rows } = await sql.executeSql<{ n: number }>(`SELECT count(*)::int AS n FROM "Job" WHERE "status" = 'queued'`);
      const [row] = rows;
      this.set(row?.n ?? 0);
    },
  });
  return { registry, httpDuration, uploadBytes };
}

const metrics: FastifyPluginAsync<MetricsPluginOptions> = async (app, { exposure, db, sql }) => {
  if (exposure === 'off') return;
  const m = createMetrics({ db, sql });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    m.httpDuration.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    const upload = /^\/v1\/(models|datasets)$/.exec(route);
    if (upload && req.method === 'POST' && reply.statusCode === 201) {
      const length = Number(req.headers['content-length']);
      if (Number.isFinite(length)) m.uploadBytes.inc({ resource: upload[1] }, length);
    }
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.type(m.registry.contentType);
    return m.registry.metrics();
  });
};

/** Depends on security: with MODELPRESS_METRICS=auth its auth hook is what guards /metrics. */
export const metricsPlugin = fp(metrics, { name: 'modelpress-metrics', fastify: '5.x', dependencies: [SECURITY_PLUGIN] });
