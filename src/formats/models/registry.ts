// The model-format registry: every format modelpress reads or writes, one file each. The upload path detects
// formats through it, and the `sourceFormat` enum, the export `format` enum and their docs derive from it.
import { AppError } from '../../errors.ts';
import { kerasFormat } from './keras.ts';
import { kerasH5Format } from './keras-h5.ts';
import { onnxFormat } from './onnx.ts';
import { tfjsLayersFormat } from './tfjs-layers.ts';
import type { DetectFile, ModelFormat } from './types.ts';

/** In detection order: the first format that recognises the upload takes it. */
export const MODEL_FORMATS = [tfjsLayersFormat, kerasFormat, kerasH5Format, onnxFormat] as const;

export type SourceFormatName = (typeof MODEL_FORMATS)[number]['name'];
export const SOURCE_FORMATS = MODEL_FORMATS.map((f): SourceFormatName => f.name);

type Exportable = Extract<(typeof MODEL_FORMATS)[number], { export: NonNullable<ModelFormat['export']> }>;
export type ExportFormatName = Exportable['exportName'];
export const EXPORT_FORMATS = MODEL_FORMATS.filter((f) => f.export !== null).map((f) => f.exportName);

export function formatByName(name: string): ModelFormat {
  const f = MODEL_FORMATS.find((x) => x.name === name);
  if (!f) throw new AppError('INTERNAL', `unknown model format ${name}`);
  return f;
}

export function formatByExportName(name: string): ModelFormat {
  const f = MODEL_FORMATS.find((x) => x.exportName === name && x.export !== null);
  if (!f) throw new AppError('VALIDATION_FAILED', `unknown export format ${name}; one of ${EXPORT_FORMATS.join(', ')}`, { field: 'format' });
  return f;
}

/** The format of an upload (from the files' content) and the files it takes; INVALID_MODEL when none recognises it. */
export function detectFormat(files: DetectFile[]): { format: ModelFormat; files: DetectFile[] } {
  for (const format of MODEL_FORMATS) {
    const taken = format.detect(files);
    if (taken) return { format, files: taken };
  }
  throw new AppError(
    'INVALID_MODEL',
    'not a model this service reads: upload a TF.js Layers model (model.json + shards), a Keras .h5 or .keras file, or an .onnx file',
    { files: files.map((f) => f.path), formats: SOURCE_FORMATS },
  );
}
