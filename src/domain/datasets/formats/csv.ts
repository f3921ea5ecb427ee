// CSV: one or more .csv files with a header row and a label column (see parsers/csv.ts).
import { parseCsv } from '../parsers/csv.ts';
import type { DatasetFormatDefinition } from './format.ts';

export const csvFormat: DatasetFormatDefinition = {
  name: 'csv',
  filePatterns: [/\.csv$/i],
  uploadable: true,
  description: 'CSV (header row, `label` column or the one named by `labelColumn`)',
  parse: parseCsv,
};
