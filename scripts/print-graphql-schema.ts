// Prints the full GraphQL SDL as served (schema.graphql plus the registries' enums and typed job params) to
// stdout: `npm run lint:graphql` pipes it into graphql-schema-linter (config: .graphql-schema-linterrc).
import { printSchema } from 'graphql';
import { buildGraphqlSchema } from '../src/graphql/schema.ts';

process.stdout.write(`${printSchema(buildGraphqlSchema())}\n`);
