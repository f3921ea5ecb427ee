// The contract between ingestDataset and the per-format parsers (each dataset format declares one parser).
import type { Readable } from 'node:stream';
import type { ExampleBudget } from './limits.ts';

/** An uploaded file; `path` is the user-supplied name. */
export interface SourceFile {
  path: string;
  sizeBytes: number;
  open(): Promise<Readable>;
}

/** A split's feature tensor, spooled to a temp file; `data()` yields its C-order bytes (no npy header). */
export interface SpooledFeatures {
  rows: number;
  data(): AsyncIterable<Uint8Array>;
}

export interface ParsedSplit {
  x: SpooledFeatures;
  /** Class index of each row, 0..classNames.length-1. */
  y: Int32Array;
}

export interface ParsedDataset {
  featureShape: number[];
  dtype: 'uint8' | 'float32';
  classNames: string[];
  train: ParsedSplit;
  test?: ParsedSplit;
}

export interface ParseContext {
  /** Private temp folder of this ingestion; ingestDataset deletes it afterwards. */
  workDir: string;
  labelColumn: string;
  budget: ExampleBudget;
  /** Registers a release step (close a file or zip) that ingestDataset runs before deleting workDir, also on error. */
  defer(release: () => Promise<void> | void): void;
}

export type DatasetParser = (files: SourceFile[], ctx: ParseContext) => Promise<ParsedDataset>;
