// Builds the executable GraphQL schema: schema.graphql plus the parts generated from registries (JobType,
// ModelSourceFormat, the typed job params and their CreateJobInput fields), with every enum bound to its REST
// strings (enums.ts). The plugin serves it; `npm run lint:graphql` lints its printed SDL (scripts/print-graphql-schema.ts).
import fs from 'node:fs';
import { buildSchema, type GraphQLSchema } from 'graphql';
import { bindEnumValues, type EnumBindings } from './enums.ts';
import { jobParamsSdl } from './job-params.ts';
import { jobTypeEnumSdl } from './job-types.ts';
import { modelFormatEnumSdl } from './model-formats.ts';

const SCHEMA = fs.readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8');

/** The full SDL as served (the source the schema is built from). */
export function graphqlSdl(bindings: EnumBindings = new Map()): string {
  const params = jobParamsSdl(bindings);
  const extension = params.createJobFields ? `\nextend input CreateJobInput {\n${params.createJobFields}\n}\n` : '';
  return SCHEMA + modelFormatEnumSdl(bindings) + jobTypeEnumSdl(bindings) + params.types + extension;
}

export function buildGraphqlSchema(): GraphQLSchema {
  const bindings: EnumBindings = new Map();
  const schema = buildSchema(graphqlSdl(bindings));
  bindEnumValues(schema, bindings);
  return schema;
}
