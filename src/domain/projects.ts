// Projects (tenancy): every model, dataset and job belongs to one project. Every domain read and write takes the
// caller's ProjectScope and filters with it here, in the query layer, not in the routes: a resource of another
// project is NOT_FOUND (404, never 403: its existence is not revealed). A key bound to a project sees that project;
// a global key (ApiKey.projectId null) and the workers see every project; a caller without a key (auth off,
// embedded mode) works in the 'default' project the migration created, so nothing needs setting up.
import type { Db } from '../db/prisma.ts';
import { AppError } from '../errors.ts';

export const DEFAULT_PROJECT = 'default';

/** Whose resources a call may see and touch: one project, or every project (projectId null). */
export interface ProjectScope {
  readonly projectId: string | null;
}

/** Global keys and the workers (which only act on jobs whose inputs were checked in scope when created). */
export const ALL_PROJECTS: ProjectScope = Object.freeze({ projectId: null });
export const projectScope = (projectId: string): ProjectScope => ({ projectId });
/** Callers without a key. */
export const DEFAULT_SCOPE: ProjectScope = Object.freeze({ projectId: DEFAULT_PROJECT });

/** The Prisma `where` part that keeps a query inside the scope. */
export const inScope = (scope: ProjectScope): { projectId?: string } => (scope.projectId === null ? {} : { projectId: scope.projectId });

/** The project a resource created by this caller goes to (a global caller creates in the default project). */
export const homeProject = (scope: ProjectScope): string => scope.projectId ?? DEFAULT_PROJECT;

export interface ProjectDto {
  id: string;
  name: string;
  createdAt: string;
}

const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const toDto = (r: { id: string; name: string; createdAt: Date }): ProjectDto => ({ id: r.id, name: r.name, createdAt: r.createdAt.toISOString() });

export class ProjectService {
  constructor(private readonly db: Db) {}

  /** A new project; `id` is a slug (what keys and clients name it by), `name` defaults to it. CONFLICT when taken. */
  async create(input: { id: string; name?: string }): Promise<ProjectDto> {
    if (!ID_PATTERN.test(input.id)) {
      throw new AppError('VALIDATION_FAILED', 'id: 1-63 lowercase letters, digits and dashes, starting with a letter or digit', { field: 'id' });
    }
    const name = (input.name ?? input.id).trim();
    if (!name || name.length > 100) throw new AppError('VALIDATION_FAILED', 'name: must be 1-100 characters', { field: 'name' });
    if (await this.db.project.findUnique({ where: { id: input.id } })) throw new AppError('CONFLICT', `project ${input.id} exists`, { id: input.id });
    return toDto(await this.db.project.create({ data: { id: input.id, name } }));
  }

  /** The projects the scope sees, oldest first. */
  async list(scope: ProjectScope): Promise<ProjectDto[]> {
    const rows = await this.db.project.findMany({ where: scope.projectId === null ? {} : { id: scope.projectId }, orderBy: { createdAt: 'asc' } });
    return rows.map(toDto);
  }

  /** Throws VALIDATION_FAILED on `field` unless project `id` exists. */
  async requireExists(id: string, field: string): Promise<void> {
    if (!(await this.db.project.findUnique({ where: { id } })))
      throw new AppError('VALIDATION_FAILED', `${field}: project ${id} does not exist`, { field });
  }
}
