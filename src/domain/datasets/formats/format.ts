// What a dataset format declares: its name (the `format` of datasets in REST, GraphQL and the database), the
// file names that identify an upload of it, and the parser that turns its files into canonical tensors.
// Formats are listed in registry.ts; everything that names formats (schema enums, upload detection, the upload
// route's documentation, the service's validation) reads them from there.
import type { DatasetParser } from '../parsers/types.ts';

export interface DatasetFormatDefinition {
  /** Stable name, e.g. 'csv'; part of the API contract once released. */
  name: string;
  /** An upload whose file names match these (any of them) is of this format; empty: never detected. */
  filePatterns: RegExp[];
  /** False for formats that only the service itself ingests (the built-in datasets). */
  uploadable: boolean;
  /** One phrase for the upload route's documentation, e.g. "one `.npz` with those arrays". */
  description: string;
  parse: DatasetParser;
}
