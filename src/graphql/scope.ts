// The project scope of a GraphQL operation: graphqlAuth (src/security/graphql-auth.ts) puts the caller's scope
// in every operation's context; resolvers, loaders and subscriptions hand it to the domain services.
import type { ProjectScope } from '../domain/projects.ts';
import { AppError } from '../errors.ts';

/** The operation's context: graphqlAuth set whose resources it sees (see src/domain/projects.ts). */
export interface ScopedContext {
  projectScope?: ProjectScope;
}

/** The caller's project scope; refuses to run without one rather than guess (the auth hook always sets it). */
export function scopeOf(ctx: ScopedContext): ProjectScope {
  if (!ctx.projectScope) throw new AppError('INTERNAL', 'GraphQL operation without a project scope');
  return ctx.projectScope;
}
