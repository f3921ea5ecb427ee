// Dataset ingestion limits: examples, and the expansion budget (decoded tensor elements and bytes, decoded image
// pixels) that every parser charges from headers and zip central directories *before* it spools anything.
import { AppError } from '../../../errors.ts';

/** Largest number of classes accepted; more distinct labels means regression data or a broken label column. */
export const MAX_CLASSES = 100_000;
/** Decoded bytes any dataset may expand to regardless of its upload size (the expansion ratio applies above it). */
export const EXPANSION_FLOOR_BYTES = 64 * 1024 ** 2;

export const invalidDataset = (message: string, details?: Record<string, unknown>) => new AppError('INVALID_DATASET', message, details);

export interface IngestLimits {
  maxExamples?: number;
  /** Tensor elements (features and labels, all splits) the canonical tensors may hold. */
  maxElements?: number;
  /** Absolute cap on the canonical tensors' bytes. */
  maxDecodedBytes?: number;
  /** Canonical tensor bytes may be at most this many times the uploaded bytes (above EXPANSION_FLOOR_BYTES). */
  maxExpansionRatio?: number;
  /** Pixels of one image (width × height from its header), checked before it is decoded. */
  maxImagePixels?: number;
}

const tooLarge = (message: string, details: Record<string, unknown>) => new AppError('PAYLOAD_TOO_LARGE', message, details);

/** Counts examples, elements and decoded bytes over all splits of one ingestion. */
export class ExampleBudget {
  private total = 0;
  private elements = 0;
  private decoded = 0;
  private readonly limits: IngestLimits;
  /** Bytes the canonical tensors may take: min(maxDecodedBytes, max(floor, ratio × uploaded bytes)). */
  readonly maxDecodedBytes: number;

  constructor(limits: IngestLimits | number | undefined, uploadedBytes = 0) {
    this.limits = typeof limits === 'number' ? { maxExamples: limits } : (limits ?? {});
    const byRatio =
      this.limits.maxExpansionRatio === undefined ? Infinity : Math.max(EXPANSION_FLOOR_BYTES, this.limits.maxExpansionRatio * uploadedBytes);
    this.maxDecodedBytes = Math.min(this.limits.maxDecodedBytes ?? Infinity, byRatio);
  }

  get maxImagePixels(): number {
    return this.limits.maxImagePixels ?? Infinity;
  }

  take(n: number): void {
    this.total += n;
    const { maxExamples } = this.limits;
    if (maxExamples !== undefined && this.total > maxExamples) {
      throw new AppError('RESOURCE_LIMIT', `dataset has more than ${maxExamples} examples`, { maxExamples });
    }
  }

  /** Examples a header declares, checked before anything is read (take() counts them later). */
  checkExamples(n: number, what: string): void {
    const { maxExamples } = this.limits;
    if (maxExamples !== undefined && this.total + n > maxExamples) {
      throw new AppError('RESOURCE_LIMIT', `${what} declares ${n} examples, more than ${maxExamples}`, { maxExamples });
    }
  }

  /** Charges `elements` decoded elements of `bytesPerElement` each; PAYLOAD_TOO_LARGE (413) over either budget. */
  expand(elements: number, bytesPerElement: number, what: string): void {
    this.elements += elements;
    this.decoded += elements * bytesPerElement;
    const { maxElements } = this.limits;
    if (maxElements !== undefined && this.elements > maxElements) {
      throw tooLarge(`${what} expands the dataset past ${maxElements} tensor elements`, { limit: 'elements', maxElements });
    }
    this.checkDecodedBytes(this.decoded, what);
  }

  /** Checks declared decompressed bytes (a zip central directory, a gzip stream so far) against the byte budget. */
  checkDecodedBytes(bytes: number, what: string): void {
    if (bytes > this.maxDecodedBytes) {
      throw tooLarge(`${what} expands to more than ${this.maxDecodedBytes} bytes`, { limit: 'decodedBytes', maxDecodedBytes: this.maxDecodedBytes });
    }
  }
}
