// A small response cache for GraphQL queries (never mutations or subscriptions). Dashboards poll the same few
// queries; serving them from memory takes the database off the hot path. Entries are keyed by (caller's project
// scope, query, variables, operation name: one project never gets another's answer) and invalidated by a generation counter that every job event (LISTEN/NOTIFY or the
// PGlite tail, so also events from workers in other processes) and every local write bumps; a short TTL bounds
// staleness for writes made by other API processes (models/datasets uploaded elsewhere).
// Every invalidation rule lives here: graphqlCachePlugin (registered before the routes, not encapsulated)
// decorates the app with the cache and invalidates on job events and at the end of any request that may write
// (REST or a GraphQL mutation); the GraphQL plugin calls `graphqlCache.serve(context)` on its own context.
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { getOperationAST, OperationTypeNode, parse, type DocumentNode } from 'graphql';
import type { JobEvents } from '../jobs/events.ts';

declare module 'fastify' {
  interface FastifyInstance {
    graphqlCache: GraphqlResponseCache;
  }
}

const MAX_ENTRIES = 500;
const MAX_PAYLOAD_BYTES = 1 << 20;

interface Entry {
  payload: string;
  generation: number;
  storedAt: number;
}

export class GraphqlResponseCache {
  private generation = 0;
  private readonly entries = new Map<string, Entry>();
  private readonly documents = new Map<string, DocumentNode | null>();

  constructor(private readonly ttlMs: number) {}

  invalidate() {
    this.generation++;
  }

  /** Serves and stores query responses: hooks on the encapsulated context that holds the /graphql routes. */
  serve(app: FastifyInstance) {
    app.addHook('preHandler', async (req, reply) => {
      const key = this.keyOf(req);
      if (!key) return; // a mutation (or anything unparsable): invalidates when it ends, see graphqlCachePlugin
      const entry = this.entries.get(key);
      const hit = entry !== undefined && entry.generation === this.generation && Date.now() - entry.storedAt < this.ttlMs;
      (req as CacheableRequest).cacheSlot = { key, generation: this.generation, hit };
      if (hit) return reply.header('x-cache', 'hit').type('application/json; charset=utf-8').send(entry.payload);
      reply.header('x-cache', 'miss');
    });
    app.addHook('onSend', async (req, reply, payload) => {
      const slot = (req as CacheableRequest).cacheSlot;
      if (!slot || slot.hit || reply.statusCode !== 200 || typeof payload !== 'string' || payload.length > MAX_PAYLOAD_BYTES) return payload;
      if (payload.includes('"errors"')) return payload;
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
      // Stored with the generation seen at the start: an invalidation during execution makes it unusable.
      this.entries.set(slot.key, { payload, generation: slot.generation, storedAt: Date.now() });
      return payload;
    });
  }

  private keyOf(req: FastifyRequest): string | null {
    if (this.ttlMs <= 0 || !req.url.startsWith('/graphql')) return null;
    const src = (req.method === 'GET' ? req.query : req.body) as { query?: unknown; variables?: unknown; operationName?: unknown } | undefined;
    if (!src || typeof src.query !== 'string') return null;
    const operationName = typeof src.operationName === 'string' ? src.operationName : undefined;
    if (!this.isQuery(src.query, operationName)) return null;
    const variables = typeof src.variables === 'string' ? src.variables : JSON.stringify(src.variables ?? {});
    // The auth hook set the scope (onRequest, before this preHandler); '*' is every project (a global key).
    const project = req.projectScope?.projectId ?? '*';
    return crypto
      .createHash('sha1')
      .update(project)
      .update('\0')
      .update(src.query)
      .update('\0')
      .update(variables)
      .update('\0')
      .update(operationName ?? '')
      .digest('base64');
  }

  private isQuery(query: string, operationName?: string): boolean {
    let doc = this.documents.get(query);
    if (doc === undefined) {
      try {
        doc = parse(query);
      } catch {
        doc = null;
      }
      if (this.documents.size >= MAX_ENTRIES) this.documents.delete(this.documents.keys().next().value!);
      this.documents.set(query, doc);
    }
    return doc !== null && getOperationAST(doc, operationName)?.operation === OperationTypeNode.QUERY;
  }
}

type CacheableRequest = FastifyRequest & { cacheSlot?: { key: string; generation: number; hit: boolean } };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A request that may have changed data: anything but a safe method or a GraphQL query (a cache slot marks those). */
const mayWrite = (req: FastifyRequest) => !SAFE_METHODS.has(req.method) && !(req as CacheableRequest).cacheSlot;

export interface GraphqlCachePluginOptions {
  /** Entry lifetime; 0 disables caching (see Config.graphqlCacheMs). */
  ttlMs: number;
  jobEvents: Pick<JobEvents, 'subscribe'>;
}

export const GRAPHQL_CACHE_PLUGIN = 'modelpress-graphql-cache';

const graphqlCache: FastifyPluginAsync<GraphqlCachePluginOptions> = async (app, { ttlMs, jobEvents }) => {
  const cache = new GraphqlResponseCache(ttlMs);
  app.decorate('graphqlCache', cache);
  const stopInvalidating = jobEvents.subscribe(() => cache.invalidate());
  app.addHook('onClose', async () => stopInvalidating());
  // At the end, not the start: a query that ran during the write stored its answer with the generation this bumps.
  app.addHook('onResponse', async (req) => {
    if (mayWrite(req)) cache.invalidate();
  });
};

export const graphqlCachePlugin = fp(graphqlCache, { name: GRAPHQL_CACHE_PLUGIN, fastify: '5.x' });
