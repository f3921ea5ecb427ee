// A small response cache for GraphQL queries (never mutations or subscriptions). Dashboards poll the same few
// queries; serving them from memory takes the database off the hot path. Entries are keyed by (query,
// variables, operation name) and invalidated by a generation counter that every job event (LISTEN/NOTIFY or the
// PGlite tail, so also events from workers in other processes) and every local write bumps; a short TTL bounds
// staleness for writes made by other API processes (models/datasets uploaded elsewhere).
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { getOperationAST, parse, type DocumentNode } from 'graphql';

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

  /** Registers the hooks on the encapsulated context that holds the /graphql routes. */
  register(app: FastifyInstance) {
    app.addHook('preHandler', async (req, reply) => {
      const key = this.keyOf(req);
      if (!key) {
        if (req.method === 'POST') this.invalidate(); // a mutation (or anything unparsable) may change what queries see
        return;
      }
      const hit = this.entries.get(key);
      if (hit && hit.generation === this.generation && Date.now() - hit.storedAt < this.ttlMs) {
        return reply.header('x-cache', 'hit').type('application/json; charset=utf-8').send(hit.payload);
      }
      (req as CacheableRequest).cacheSlot = { key, generation: this.generation };
      reply.header('x-cache', 'miss');
    });
    app.addHook('onSend', async (req, reply, payload) => {
      const slot = (req as CacheableRequest).cacheSlot;
      if (!slot || reply.statusCode !== 200 || typeof payload !== 'string' || payload.length > MAX_PAYLOAD_BYTES) return payload;
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
    return crypto
      .createHash('sha1')
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
    return doc !== null && getOperationAST(doc, operationName)?.operation === 'query';
  }
}

type CacheableRequest = FastifyRequest & { cacheSlot?: { key: string; generation: number } };
