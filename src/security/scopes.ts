// Scopes of API keys, each including the ones below it: read < write < admin. A key also has a project
// (src/domain/projects.ts): what it may do (scope) is separate from whose resources it sees (project).
import { ALL_PROJECTS, DEFAULT_SCOPE, projectScope, type ProjectScope } from '../domain/projects.ts';
import { AppError } from '../errors.ts';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  keyId: string;
  name: string;
  scope: Scope;
  /** The one project the key sees; null: a global key (every project). */
  projectId: string | null;
}

export const isScope = (s: unknown): s is Scope => typeof s === 'string' && (SCOPES as readonly string[]).includes(s);

export function hasScope(granted: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(granted) >= SCOPES.indexOf(needed);
}

/** Throws FORBIDDEN when the principal's scope does not cover `needed`. */
export function requireScope(principal: Principal, needed: Scope, what: string) {
  if (!hasScope(principal.scope, needed)) {
    throw new AppError('FORBIDDEN', `${what} needs a key with scope "${needed}"; key ${principal.name} has "${principal.scope}"`, {
      needed,
      granted: principal.scope,
    });
  }
}

/**
 * What a REST request needs, or null when it is open. Only the API surface (/v1, /graphql, /metrics when
 * protected) needs a key: health probes, documentation and the dashboard's static files stay open.
 * GraphQL needs read here; a mutation's write scope is checked once the operation is parsed.
 */
export function requiredScope(method: string, path: string, protectMetrics: boolean): Scope | null {
  if (method === 'OPTIONS') return null; // CORS preflight carries no credentials
  if (path === '/v1/keys' || path.startsWith('/v1/keys/') || path === '/v1/projects' || path.startsWith('/v1/projects/')) return 'admin';
  if (path === '/v1' || path.startsWith('/v1/')) return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
  if (path === '/graphql') return 'read';
  if (path === '/metrics') return protectMetrics ? 'read' : null;
  return null;
}

/** Whose resources a caller sees: its key's project, every project for a global key, the default project without a key. */
export function projectScopeOf(principal: Principal | null | undefined): ProjectScope {
  if (!principal) return DEFAULT_SCOPE;
  return principal.projectId === null ? ALL_PROJECTS : projectScope(principal.projectId);
}

/**
 * The admin scope (managing keys and projects) also needs a global key: a project's admin key could otherwise
 * mint a global key or read other projects' keys. Throws FORBIDDEN for a project-bound key.
 */
export function requireGlobal(principal: Principal, what: string) {
  if (principal.projectId !== null) {
    throw new AppError('FORBIDDEN', `${what} needs a global key; key ${principal.name} belongs to project ${principal.projectId}`, {
      needed: 'admin',
      granted: principal.scope,
    });
  }
}
