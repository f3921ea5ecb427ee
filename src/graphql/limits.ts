// Query limits: hard caps on the document's shape (fields and aliases, counted with fragments expanded, checked
// before GraphQL validation whose overlap rule is quadratic in same-named fields), a depth limit (mercurius
// `queryDepth`), bounds on page-size arguments, and a cost limit computed before execution from the document and
// the variables. Cost ≈ the number of rows a query may load plus SQL_COST per SQL query it may run: each Model,
// Dataset or Job object and each list read counts 1, multiplied by the page sizes above it (`first`, `max`; 10
// for other lists of rows); every root field, batched relation and per-parent list adds SQL_COST (times its
// parents when it runs once per parent). Aliases are separate selections, so each one pays in full. Parts of a
// row (progress, files, reports, metric points) are free. The same walk counts the SQL queries an operation may run,
// capped at MAX_SQL. What a client may spend per minute is its cost budget (src/security/cost-budget.ts).
import {
  getNamedType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
  OperationTypeNode,
} from 'graphql';
import { AppError } from '../errors.ts';

/** GraphiQL's introspection query is 7 deep; lineage queries (model → producedBy → inputs → dataset …) fit in 10. */
export const MAX_DEPTH = 10;
export const MAX_COST = 10_000;
/** Field selections in one operation document, fragments expanded (GraphiQL's introspection query has ~150). */
export const MAX_FIELDS = 1_000;
/** Aliased fields in one document: enough for a dashboard, far too few for an alias flood. */
export const MAX_ALIASES = 50;
/** One SQL query's worth of cost: a field read by its own query costs this on top of the rows it returns. */
export const SQL_COST = 10;
/**
 * SQL queries one operation may run (root fields and per-parent lists once per parent, batched relations once): the
 * embedded database runs statements one at a time, so a request's statements are the wait it puts in front of
 * everyone else's; with 2 operations of a client executing at once (src/graphql/plugin.ts), one client never queues more
 * than 24. The dashboard's largest query (model page) needs 9; the alias cap alone allowed 50.
 */
export const MAX_SQL = 12;
/** Query text longer than this is refused before parsing. */
export const MAX_QUERY_CHARS = 64 * 1024;
/** Parser token cap (mercurius `parseOptions.maxTokens` and our own pre-parse). */
export const MAX_TOKENS = 20_000;

/** Allowed range of each size argument. */
const SIZE_ARGS: Record<string, { max: number; min: number }> = {
  first: { min: 1, max: 200 },
  last: { min: 1, max: 10_000 },
  max: { min: 0, max: 20 },
};
/** Arguments that multiply the cost of what is selected below them. */
const MULTIPLIERS = new Set(['first', 'max']);
const ROW_TYPES = new Set(['Model', 'Dataset', 'Job']);
/** Reads of lists that are not rows (one batched query per page), charged 1 per parent. */
const ROW_READS = new Set(['Job.latestMetrics', 'Job.metrics', 'Job.events']);
/** Lists of rows without a size argument (e.g. Job.results) are assumed this long. */
const UNSIZED_LIST = 10;
/** Fields whose resolver runs its own SQL query once per parent object (not batched by a loader). */
const PER_PARENT_SQL = new Set(['Model.jobs', 'Dataset.jobs', 'Job.events']);

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  /** SQL queries counted so far in the operation being walked. */
  sql: number;
}

function argValue(w: Walk, field: GraphQLField<unknown, unknown>, node: FieldNode, name: string): unknown {
  const arg = node.arguments?.find((a) => a.name.value === name);
  if (!arg) return field.args.find((a) => a.name === name)?.defaultValue;
  const v: ValueNode = arg.value;
  if (v.kind === Kind.VARIABLE) return w.variables[v.name.value];
  if (v.kind === Kind.INT) return Number(v.value);
  return undefined;
}

function isListOf(field: GraphQLField<unknown, unknown>) {
  const t = isNonNullType(field.type) ? field.type.ofType : field.type;
  return isListType(t);
}

function selectionCost(w: Walk, set: SelectionSetNode, parent: GraphQLObjectType, mult: number): number {
  let cost = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.INLINE_FRAGMENT) {
      const t = sel.typeCondition ? w.schema.getType(sel.typeCondition.name.value) : parent;
      if (isObjectType(t)) cost += selectionCost(w, sel.selectionSet, t, mult);
      continue;
    }
    if (sel.kind === Kind.FRAGMENT_SPREAD) {
      const frag = w.fragments.get(sel.name.value);
      const t = frag && w.schema.getType(frag.typeCondition.name.value);
      if (frag && isObjectType(t)) cost += selectionCost(w, frag.selectionSet, t, mult);
      continue;
    }
    const name = sel.name.value;
    if (name.startsWith('__')) continue; // introspection
    const field = parent.getFields()[name];
    if (!field) continue; // unknown fields are reported by GraphQL validation
    let size = 1;
    for (const arg of field.args) {
      const range = SIZE_ARGS[arg.name];
      if (!range) continue;
      const v = argValue(w, field, sel, arg.name);
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) {
        throw new AppError('VALIDATION_FAILED', `${parent.name}.${name}(${arg.name}): must be an integer from ${range.min} to ${range.max}`, {
          field: arg.name,
        });
      }
      if (MULTIPLIERS.has(arg.name)) size = Math.max(1, v);
    }
    const named = getNamedType(field.type);
    const isRow = ROW_TYPES.has(named.name);
    const isSizedRead = field.args.some((a) => MULTIPLIERS.has(a.name));
    // A connection's items and its edges' nodes are the page's rows (one query, already counted at the connection).
    const isConnectionItems = parent.name.endsWith('Connection') || parent.name.endsWith('Edge');
    if (isRow && isListOf(field) && !isSizedRead && !isConnectionItems) size = UNSIZED_LIST;
    const rowsHere = mult * size;
    const key = `${parent.name}.${name}`;
    if (isRow) cost += rowsHere;
    else if (isSizedRead || ROW_READS.has(key)) cost += mult;
    // SQL: root fields and per-parent lists run once per parent; relations to rows are one batched query.
    if (parent === w.schema.getQueryType() || PER_PARENT_SQL.has(key)) {
      cost += SQL_COST * mult;
      w.sql += mult;
    } else if ((isRow && !isConnectionItems) || ROW_READS.has(key)) {
      cost += SQL_COST;
      w.sql += 1;
    }
    if (sel.selectionSet && isObjectType(named)) cost += selectionCost(w, sel.selectionSet, named, rowsHere);
  }
  return cost;
}

/** Cost of the operation that will run; throws VALIDATION_FAILED for out-of-range sizes, RESOURCE_LIMIT above MAX_COST or MAX_SQL. */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
): number {
  // Without an operation name, every operation of the document is checked (the one that runs is among them).
  const ops = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const w = { schema, fragments, variables: variables ?? {}, sql: 0 };
  let cost = 0;
  let sql = 0;
  for (const op of ops) {
    const root =
      op.operation === OperationTypeNode.QUERY
        ? schema.getQueryType()
        : op.operation === OperationTypeNode.MUTATION
          ? schema.getMutationType()
          : schema.getSubscriptionType();
    w.sql = 0;
    if (root) cost = Math.max(cost, selectionCost(w, op.selectionSet, root, 1));
    sql = Math.max(sql, w.sql);
  }
  if (cost > MAX_COST) {
    throw new AppError('RESOURCE_LIMIT', `query cost ${cost} exceeds the limit of ${MAX_COST}: ask for smaller pages or fewer nested lists`, {
      cost,
      limit: MAX_COST,
    });
  }
  if (sql > MAX_SQL) {
    throw new AppError(
      'RESOURCE_LIMIT',
      `the query may run ${sql} SQL queries, more than ${MAX_SQL}: use fewer root fields or aliases, or split it`,
      {
        sql,
        limit: MAX_SQL,
        what: 'sql',
      },
    );
  }
  return cost;
}

/**
 * Hard caps on the document itself, before validation: at most MAX_FIELDS field selections and MAX_ALIASES aliases,
 * counted over every operation with fragment spreads expanded where they are used (a fragment spread twice counts
 * twice; a fragment cycle is left to validation). Throws RESOURCE_LIMIT at the first excess, so a hostile document
 * costs at most MAX_FIELDS steps.
 */
export function checkDocumentShape(document: DocumentNode): void {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  let fields = 0;
  let aliases = 0;
  const active = new Set<string>();
  const walk = (set: SelectionSetNode | undefined) => {
    if (!set) return;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (++fields > MAX_FIELDS) {
          throw new AppError('RESOURCE_LIMIT', `the query selects more than ${MAX_FIELDS} fields (fragments expanded)`, {
            limit: MAX_FIELDS,
            what: 'fields',
          });
        }
        if (sel.alias && ++aliases > MAX_ALIASES) {
          throw new AppError('RESOURCE_LIMIT', `the query uses more than ${MAX_ALIASES} aliases`, { limit: MAX_ALIASES, what: 'aliases' });
        }
        walk(sel.selectionSet);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        walk(sel.selectionSet);
      } else {
        const name = sel.name.value;
        const frag = fragments.get(name);
        if (!frag || active.has(name)) continue;
        active.add(name);
        walk(frag.selectionSet);
        active.delete(name);
      }
    }
  };
  for (const d of document.definitions) if (d.kind === Kind.OPERATION_DEFINITION) walk(d.selectionSet);
}
