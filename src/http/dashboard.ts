// The web dashboard: the static files of dashboard/ at `/` (plain ES modules, no build step) and uPlot's
// distribution files from node_modules at /assets/uplot/, so nothing is loaded from a CDN at run time.
// Routes are registered per file (wildcard: false), so unknown paths keep the API's problem+json 404, and
// they stay out of the OpenAPI document (@fastify/static hides its routes by default). Encapsulated: the two
// @fastify/static registrations' reply decorators stay inside it.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));
const UPLOT_DIST = path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

const dashboard: FastifyPluginAsync = async (app) => {
  // The files change only with a deploy: revalidate by ETag, never serve a stale page after one.
  const common = { wildcard: false, cacheControl: true, maxAge: 0, etag: true } as const;
  await app.register(fastifyStatic, { ...common, root: DASHBOARD_DIR, prefix: '/', index: 'index.html' });
  await app.register(fastifyStatic, { ...common, root: UPLOT_DIST, prefix: '/assets/uplot/', decorateReply: false, index: false });
};

export const dashboardPlugin = fp(dashboard, { name: 'modelpress-dashboard', fastify: '5.x', encapsulate: true });
