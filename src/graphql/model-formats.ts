// The GraphQL ModelSourceFormat enum of the model-format registry, generated when the schema is built
// (schema.graphql uses it but does not list its values). Values are UPPER_CASE bound to the REST names
// (enums.ts): KERAS_H5 is "keras-h5", TFJS_LAYERS is "tfjs-layers".
import { SOURCE_FORMATS } from '../formats/models/registry.ts';
import { enumSdl, type EnumBindings } from './enums.ts';

export function modelFormatEnumSdl(bindings: EnumBindings): string {
  return enumSdl(bindings, 'ModelSourceFormat', 'Format a model was uploaded in.', SOURCE_FORMATS, (f) => `Uploaded as ${f} (\`${f}\` in REST).`);
}
