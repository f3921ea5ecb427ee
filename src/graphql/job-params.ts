// Typed job params for GraphQL, generated from the job-kind registry when the schema is built: one input type per
// kind (PruneParamsInput, …) with a field per param, enums for string choices (PruneMethod: MAGNITUDE | STRUCTURED,
// bound to the REST strings), nested inputs for nested objects (QuantizeQatInput), and JSON where a param has no
// GraphQL shape (a union of a preset name and a spec object, a free-form record). CreateJobInput gains one field per
// kind (`prune: PruneParamsInput`) beside the untyped `params: JSON`. The values become REST params unchanged
// (enums already hold the REST strings; nulls are dropped) and are validated by the kind's schema as in REST.
import { jobKindSchemas } from '../jobs/registry.ts';
import { enumSdl, gqlEnumName, type EnumBindings } from './enums.ts';

type Schema = {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
};

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const quote = (s: string) => JSON.stringify(s);

/** The string choices of a schema (a union of string constants, or an enum of strings), else null. */
function choices(s: Schema): string[] | null {
  if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === 'string')) return s.enum;
  if (s.anyOf?.length && s.anyOf.every((a) => typeof a.const === 'string')) return s.anyOf.map((a) => a.const as string);
  return null;
}

/** What the schema allows, in words, for a description: range, list length and default. */
function constraints(s: Schema): string {
  const parts: string[] = [];
  const low = s.minimum !== undefined ? `≥ ${s.minimum}` : s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : null;
  const high = s.maximum !== undefined ? `≤ ${s.maximum}` : s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : null;
  if (low || high) parts.push([low, high].filter(Boolean).join(' and '));
  if (s.minItems !== undefined || s.maxItems !== undefined) parts.push(`${s.minItems ?? 0} to ${s.maxItems ?? 'any number of'} items`);
  if (s.default !== undefined) parts.push(`default ${JSON.stringify(s.default)}`);
  return parts.join('; ');
}

/** What a param is, when its schema has no description: its JSON type in words. */
const typeWords = (s: Schema) =>
  choices(s)
    ? 'One of the choices'
    : (({ integer: 'Integer', number: 'Number', boolean: 'Boolean', string: 'String', array: 'List', object: 'Object' } as Record<string, string>)[
        s.type ?? ''
      ] ?? 'JSON value, as in REST');

function describe(s: Schema): string {
  const base = s.description?.trim();
  const extra = constraints(s);
  const text = base ? `${base.replace(/\.$/, '')}${extra ? ` (${extra})` : ''}.` : `${typeWords(s)}${extra ? `, ${extra}` : ''}.`;
  return pascal(text);
}

class Builder {
  readonly sdl: string[] = [];
  constructor(readonly bindings: EnumBindings) {}

  /** The GraphQL input type of schema `s` at `name` (a type-name prefix), declaring what it needs. */
  typeOf(s: Schema, name: string, kindType: string): string {
    const options = choices(s);
    if (options) {
      this.sdl.push(enumSdl(this.bindings, name, `Choices of ${kindType} params (REST strings in each value's description).`, options));
      return name;
    }
    if (s.type === 'integer') return 'Int';
    if (s.type === 'number') return 'Float';
    if (s.type === 'boolean') return 'Boolean';
    if (s.type === 'string') return 'String';
    if (s.type === 'array' && s.items) return `[${this.typeOf(s.items, name, kindType)}!]`;
    if (s.type === 'object' && s.properties && Object.keys(s.properties).length) {
      this.input(`${name}Input`, s, `Part of the params of a ${kindType} job.`, name, kindType);
      return `${name}Input`;
    }
    return 'JSON';
  }

  input(typeName: string, s: Schema, description: string, prefix: string, kindType: string) {
    const fields = Object.entries(s.properties ?? {}).map(([field, p]) => {
      const required = s.required?.includes(field) && p.default === undefined;
      const t = this.typeOf(p, `${prefix}${pascal(field)}`, kindType);
      return `  ${quote(describe(p))}\n  ${field}: ${t}${required ? '!' : ''}`;
    });
    this.sdl.push(`\n${quote(description)}\ninput ${typeName} {\n${fields.join('\n')}\n}\n`);
  }
}

/** Kinds whose params have a typed GraphQL input, with the input's name. */
export const typedParamKinds = () =>
  jobKindSchemas()
    .filter((k) => Object.keys((k.paramsSchema as Schema).properties ?? {}).length > 0)
    .map((k) => ({ type: k.type, input: `${pascal(k.type)}ParamsInput` }));

/** SDL of every kind's params input, its enums, and the CreateJobInput fields naming them; enum bindings recorded. */
export function jobParamsSdl(bindings: EnumBindings): { types: string; createJobFields: string } {
  const b = new Builder(bindings);
  const kinds = typedParamKinds();
  for (const { type, paramsSchema } of jobKindSchemas()) {
    const kind = kinds.find((k) => k.type === type);
    if (!kind) continue;
    const description = `Params of a ${type} job (REST: \`params\` of type "${type}"); omitted fields take their defaults.`;
    b.input(kind.input, JSON.parse(JSON.stringify(paramsSchema)) as Schema, description, pascal(type), type);
  }
  const createJobFields = kinds
    .map(
      ({ type, input }) =>
        `  ${quote(`Typed params of a ${type} job, instead of \`params\` (with type ${gqlEnumName(type)}).`)}\n  ${type}: ${input}`,
    )
    .join('\n');
  return { types: b.sdl.join(''), createJobFields };
}

/** A typed params input as REST params: null fields dropped (a null means "not given"), nested objects too. */
export function paramsFromInput(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(paramsFromInput);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== null && x !== undefined)
      .map(([k, x]) => [k, paramsFromInput(x)]),
  );
}
