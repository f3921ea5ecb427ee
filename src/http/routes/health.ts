import type { FastifyPluginAsync } from 'fastify';
import type { Runtime } from '../../runtime.ts';

export const healthRoutes: FastifyPluginAsync<{ runtime: Runtime }> = async (app, { runtime }) => {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness: the process answers' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['health'], summary: 'Readiness: database and object store answer' } }, async (_req, reply) => {
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
