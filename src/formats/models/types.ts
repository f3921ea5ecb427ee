// The shape of one model format in the registry (src/formats/models/registry.ts): how it is recognised from the
// uploaded bytes, how it becomes a trainable TF.js Layers model, and how a stored model is written back out in it.
import type { tf } from '../../ml/tf.ts';

/** An uploaded file as the detectors see it: its name, size, first bytes and (small JSON files only) its text. */
export interface DetectFile {
  path: string;
  sizeBytes: number;
  /** The first bytes of the file (at least 64 when the file is that long). */
  head: Buffer;
  /** Parsed content of a `.json` file small enough to read (≤ the model.json limit); undefined otherwise. */
  json?: unknown;
  /** Entry names of a zip file that was not expanded on upload (a .keras); undefined for other files. */
  zipEntries?: string[];
}

/** An uploaded file spooled to a local temp file, handed to an importer (in the conversion worker). */
export interface LocalFile {
  path: string;
  localPath: string;
  sizeBytes: number;
}

export type TensorLayout = 'NHWC' | 'NCHW';

/** What an importer learned about the original, stored on the model record. */
export interface SourceInfo {
  /** Keras version ("2.6.0", "3.13.0") or ONNX opset ("opset 9"); null when the file does not say. */
  version: string | null;
  /** Layout of image inputs the original expected; null for non-image inputs. */
  layout: TensorLayout | null;
  /** Input shape the ORIGINAL model declared (e.g. [1, 1, 28, 28] for an NCHW ONNX graph with a fixed batch). */
  inputShape: (number | null)[] | null;
  /** Whether the graph ends in a softmax (probabilities) or gives logits. */
  outputs: 'probabilities' | 'logits';
  /** Notes on anything the import changed (a fixed batch made free, folded ops, ...). */
  notes: string[];
}

/** Budgets an importer must respect while expanding what it reads (the upload's own limits). */
export interface ImportContext {
  limits: { maxFileBytes: number; maxRequestBytes: number; maxFiles: number; maxModelJsonBytes: number };
  /** A fresh directory for temp files, removed after the import. */
  workDir: string;
}

export interface ImportResult {
  /** TF.js Layers artifacts: topology, weight specs and the joined float32 weight bytes. */
  artifacts: tf.io.ModelArtifacts & { weightData: ArrayBuffer };
  source: SourceInfo;
}

export interface ExportOptions {
  /** How quantized weights go into an ONNX graph: QuantizeLinear/DequantizeLinear pairs or plain float32. */
  quantized: 'qdq' | 'float';
  /** The layout the exported graph takes its input in (ONNX only; NCHW for models imported from NCHW graphs). */
  inputLayout: TensorLayout;
  /** Name of the file offered to the client, without extension. */
  baseName: string;
}

export interface ExportResult {
  data: Buffer;
  fileName: string;
  mediaType: string;
}

export interface ModelFormat<Name extends string = string, ExportName extends string = string> {
  /** The `sourceFormat` value on a model record. */
  readonly name: Name;
  /** The `format` value of GET /v1/models/{id}/export. */
  readonly exportName: ExportName;
  readonly title: string;
  /** Names the files of this format usually carry (documentation and Content-Disposition). */
  readonly extension: string;
  readonly mediaType: string;
  /**
   * The uploaded files this format recognises from their content (not their names); null when none. Returned files
   * are the format's own (e.g. a weights-only .h5 and its architecture JSON); the rest of the upload is refused.
   */
  detect(files: DetectFile[]): DetectFile[] | null;
  /**
   * Builds the TF.js model from the detected files. Runs in the conversion worker (off the API's event loop).
   * Null for TF.js Layers itself: those files are stored as uploaded.
   */
  import: ((files: LocalFile[], ctx: ImportContext) => Promise<ImportResult>) | null;
  /** Writes a TF.js model in this format. Runs in the conversion worker. */
  export: ((artifacts: tf.io.ModelArtifacts, opts: ExportOptions) => Promise<ExportResult>) | null;
}
