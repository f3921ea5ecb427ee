// GraphQL enums in UPPER_CASE over the REST strings. Every enum value's internal value is its REST string
// (bindEnumValues), so resolvers read and return the REST strings (`'running'`, `'keras-h5'`, `'prune'`) and
// graphql-js maps them to and from the GraphQL names (RUNNING, KERAS_H5, PRUNE) in arguments, inputs and results.
import { GraphQLEnumType, type GraphQLSchema } from 'graphql';

/** The GraphQL name of a REST enum string: lowerCamel, '-' and '_' become UPPER_SNAKE (keras-h5 → KERAS_H5, fineTune → FINE_TUNE). */
export const gqlEnumName = (rest: string) =>
  rest
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();

/** REST string of each enum value, by enum type name then GraphQL value name. Filled as enums are declared. */
export type EnumBindings = Map<string, Map<string, string>>;

const quote = (s: string) => JSON.stringify(s);

/**
 * SDL of an enum over REST strings, each value described (its REST spelling), and its binding recorded in
 * `bindings`. Throws when two REST strings map to one name.
 */
export function enumSdl(
  bindings: EnumBindings,
  name: string,
  description: string,
  values: readonly string[],
  describe?: (rest: string) => string,
): string {
  const map = new Map<string, string>();
  for (const rest of values) {
    const gql = gqlEnumName(rest);
    if (map.has(gql)) throw new Error(`GraphQL enum ${name}: "${rest}" and "${map.get(gql)}" are both ${gql}`);
    map.set(gql, rest);
  }
  bindings.set(name, map);
  const lines = [...map].map(([gql, rest]) => `  ${quote(describe?.(rest) ?? `\`${rest}\` in REST.`)}\n  ${gql}`);
  return `\n${quote(description)}\nenum ${name} {\n${lines.join('\n')}\n}\n`;
}

/**
 * Sets each bound enum value's internal value to its REST string; an enum of the SDL without a binding gets the
 * lower-cased names (JobStatus RUNNING → 'running'). Call before the schema executes anything.
 */
export function bindEnumValues(schema: GraphQLSchema, bindings: EnumBindings): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!(type instanceof GraphQLEnumType) || type.name.startsWith('__')) continue;
    const map = bindings.get(type.name);
    for (const v of type.getValues()) v.value = map ? map.get(v.name) : v.name.toLowerCase();
    // graphql-js builds its value → enum value lookup on first use; make sure it is built from the values above.
    (type as unknown as { _valueLookup: unknown })._valueLookup = null;
  }
}
