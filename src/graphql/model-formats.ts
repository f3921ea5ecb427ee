// GraphQL enums of the model-format registry, generated when the schema is built (schema.graphql uses them but
// does not list their values). GraphQL names cannot hold '-', so the REST value "keras-h5" is `keras_h5` here.
import { SOURCE_FORMATS } from '../formats/models/registry.ts';

export const graphqlEnumValue = (name: string) => name.replace(/-/g, '_');

export function modelFormatEnumSdl(): string {
  const values = SOURCE_FORMATS.map((f) => `  ${graphqlEnumValue(f)}`).join('\n');
  return `\n"Format a model was uploaded in (REST spells '_' as '-': keras_h5 is \\"keras-h5\\")."\nenum ModelSourceFormat {\n${values}\n}\n`;
}
