// Probes: /healthz (liveness) and /readyz (database and object store answer). Open without an API key.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Runtime } from '../../runtime.ts';

export const healthRoutes: FastifyPluginAsync<{ runtime: Runtime }> = async (app, { runtime }) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getLiveness',
        tags: ['health'],
        summary: 'Liveness: the process answers',
        description: 'Always 200 while the process serves requests; needs no API key.',
        response: { 200: Type.Object({ status: Type.Literal('ok') }, { examples: [{ status: 'ok' }] }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  const Readiness = Type.Object(
    {
      status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
      database: Type.String({ description: '"ok" or "error: …"' }),
      objectStore: Type.String({ description: '"ok" or "error: …"' }),
      storeKind: Type.String({ examples: ['fs', 's3'] }),
      embeddedDatabase: Type.Boolean(),
    },
    { examples: [{ status: 'ok', database: 'ok', objectStore: 'ok', storeKind: 'fs', embeddedDatabase: true }] },
  );
  const readiness = {
    operationId: 'getReadiness',
    tags: ['health'],
    summary: 'Readiness: database and object store answer',
    description: '200 when the database and the object store both answer, else 503 with what failed; needs no API key.',
    response: { 200: Readiness, 503: { ...Readiness, description: 'A dependency does not answer' } },
  };
  app.get('/readyz', { schema: readiness }, async (_req, reply) => {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
        return 'ok';
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    };
    const [database, objectStore] = await Promise.all([check(() => runtime.db.$queryRaw`SELECT 1`), check(() => runtime.store.ping())]);
    const ok = database === 'ok' && objectStore === 'ok';
    reply.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', database, objectStore, storeKind: runtime.store.kind, embeddedDatabase: runtime.embedded };
  });
};
