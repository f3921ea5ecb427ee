// The GraphQL JobType enum, generated from the job-kind registry when the schema is built (schema.graphql uses
// it but does not list its values). Values are UPPER_CASE (PRUNE, AUTOCOMPRESS) bound to the REST names (enums.ts),
// so resolvers see "prune" as in REST.
import { jobTypes } from '../jobs/registry.ts';
import { enumSdl, type EnumBindings } from './enums.ts';

export function jobTypeEnumSdl(bindings: EnumBindings): string {
  return enumSdl(bindings, 'JobType', "Job kind (the job-kind registry's).", jobTypes(), (t) => `A ${t} job (\`${t}\` in REST).`);
}
