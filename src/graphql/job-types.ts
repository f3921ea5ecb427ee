// The GraphQL JobType enum, generated from the job-kind registry when the schema is built (schema.graphql uses
// it but does not list its values). Kind names are lowerCamel, so each is a valid enum value as it stands and
// the GraphQL value equals the REST one.
import { jobTypes } from '../jobs/registry.ts';

export function jobTypeEnumSdl(): string {
  return `\n"Job kind (the job-kind registry's)."\nenum JobType {\n${jobTypes()
    .map((t) => `  ${t}`)
    .join('\n')}\n}\n`;
}
