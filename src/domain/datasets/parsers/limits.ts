import { AppError } from '../../../errors.ts';

/** Largest number of classes accepted; more distinct labels means regression data or a broken label column. */
export const MAX_CLASSES = 100_000;

export const invalidDataset = (message: string, details?: Record<string, unknown>) => new AppError('INVALID_DATASET', message, details);

/** Counts examples over all splits against IngestOptions.maxExamples. */
export class ExampleBudget {
  private total = 0;
  constructor(private readonly maxExamples: number | undefined) {}

  take(n: number): void {
    this.total += n;
    if (this.maxExamples !== undefined && this.total > this.maxExamples) {
      throw new AppError('RESOURCE_LIMIT', `dataset has more than ${this.maxExamples} examples`, { maxExamples: this.maxExamples });
    }
  }
}
