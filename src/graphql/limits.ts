// Query limits: a depth limit (mercurius `queryDepth`), bounds on page-size arguments, and a cost limit computed
// before execution from the document and the variables. Cost ≈ the number of rows a query may load: each Model,
// Dataset or Job object and each list read counts 1, multiplied by the page sizes above it (`first`, `max`; 10
// for other lists of rows). Parts of a row (progress, files, reports, metric points) are free.
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

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
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
    const isConnectionItems = parent.name.endsWith('Connection');
    if (isRow && isListOf(field) && !isSizedRead && !isConnectionItems) size = UNSIZED_LIST;
    const rowsHere = mult * size;
    if (isRow) cost += rowsHere;
    else if (isSizedRead || ROW_READS.has(`${parent.name}.${name}`)) cost += mult;
    if (sel.selectionSet && isObjectType(named)) cost += selectionCost(w, sel.selectionSet, named, rowsHere);
  }
  return cost;
}

/** Cost of the operation that will run; throws VALIDATION_FAILED for out-of-range sizes and RESOURCE_LIMIT above MAX_COST. */
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
  const w = { schema, fragments, variables: variables ?? {} };
  let cost = 0;
  for (const op of ops) {
    const root =
      op.operation === OperationTypeNode.QUERY
        ? schema.getQueryType()
        : op.operation === OperationTypeNode.MUTATION
          ? schema.getMutationType()
          : schema.getSubscriptionType();
    if (root) cost = Math.max(cost, selectionCost(w, op.selectionSet, root, 1));
  }
  if (cost > MAX_COST) {
    throw new AppError('RESOURCE_LIMIT', `query cost ${cost} exceeds the limit of ${MAX_COST}: ask for smaller pages or fewer nested lists`, {
      cost,
      limit: MAX_COST,
    });
  }
  return cost;
}
