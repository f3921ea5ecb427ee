// API keys for GraphQL: queries and subscriptions need read, mutations need write. Over HTTP the key was checked
// by the onRequest hook; over WebSocket it comes from the upgrade request's Authorization header or the
// connection_init payload ({ authorization: "Bearer mp_…" }, also accepted under payload.headers). Every
// operation's context gets `projectScope`: its key's project (see src/domain/projects.ts).
import { Kind, OperationTypeNode, type DocumentNode } from 'graphql';
import type { MercuriusContext } from 'mercurius';
import { AppError } from '../errors.ts';
import { bearerToken } from './api-keys.ts';
import type { AuthSettings } from './auth.ts';
import type { ProjectScope } from '../domain/projects.ts';
import { projectScopeOf, requireScope, type Principal } from './scopes.ts';

type Payload = Record<string, unknown> | undefined;

function payloadToken(payload: Payload): string | null {
  if (!payload || typeof payload !== 'object') return null;
  const headers = (payload.headers && typeof payload.headers === 'object' ? payload.headers : payload) as Record<string, unknown>;
  return bearerToken(headers.authorization ?? headers.Authorization);
}

const isMutation = (doc: DocumentNode) =>
  doc.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === OperationTypeNode.MUTATION);

export function graphqlAuth(settings: AuthSettings) {
  type Ctx = MercuriusContext & { _connectionInit?: Payload; principal?: Principal | null; projectScope?: ProjectScope };

  async function principalOf(ctx: Ctx): Promise<Principal | null> {
    if (ctx.principal !== undefined) return ctx.principal;
    let principal: Principal | null = ctx.reply?.request.principal ?? (ctx as { request?: { principal?: Principal } }).request?.principal ?? null;
    const token = principal ? null : payloadToken(ctx._connectionInit);
    if (token) principal = await settings.keys.verify(token);
    ctx.principal = principal;
    return principal;
  }

  async function check(document: DocumentNode, ctx: Ctx) {
    try {
      const principal = await principalOf(ctx);
      // Whose resources the operation sees (resolvers and loaders pass it to the services), with auth on or off.
      ctx.projectScope = projectScopeOf(principal);
      if (!settings.enabled) return;
      if (!principal) throw new AppError('UNAUTHENTICATED', 'this operation needs an API key');
      requireScope(principal, isMutation(document) ? 'write' : 'read', isMutation(document) ? 'a GraphQL mutation' : 'a GraphQL query');
    } catch (err) {
      // Subscription errors skip the errorFormatter: carry the code the way mercurius passes it on.
      if (err instanceof AppError) Object.assign(err, { extensions: { code: err.code, status: err.status } });
      throw err;
    }
  }

  return {
    /** connection_init: a key in the payload must be valid (a missing one is checked per operation). */
    onConnect: async ({ payload }: { payload?: Payload }): Promise<boolean> => {
      const token = payloadToken(payload);
      if (!token) return true;
      return (await settings.keys.verify(token)) !== null;
    },
    preExecution: async (_schema: unknown, document: DocumentNode, ctx: Ctx) => check(document, ctx),
    preSubscriptionExecution: async (_schema: unknown, document: DocumentNode, ctx: Ctx) => check(document, ctx),
  };
}
