// CSV: a header row, one label column (default `label`), every other column a numeric feature (float32).
import { pipeline } from 'node:stream';
import { CsvError, parse, type Info } from 'csv-parse';
import { IntList, LabelDictionary } from './labels.ts';
import { invalidDataset } from './limits.ts';
import { baseName } from './source-name.ts';
import { RowSpool } from './spool.ts';
import type { DatasetParser, ParseContext, SourceFile, SpooledFeatures } from './types.ts';

/** Bounds the parser's line buffer, so one endless line cannot exhaust memory. */
const MAX_RECORD_CHARS = 8 << 20;

interface CsvSplit {
  header: string[];
  x: SpooledFeatures;
  keys: Int32Array;
}

export const parseCsv: DatasetParser = async (files, ctx) => {
  const notCsv = files.find((f) => !/\.csv$/i.test(f.path));
  if (notCsv) throw invalidDataset(`unexpected file ${notCsv.path} in a CSV dataset`);
  const testFiles = files.filter((f) => /test/i.test(baseName(f.path)));
  const trainFiles = files.filter((f) => !testFiles.includes(f));
  if (trainFiles.length !== 1 || testFiles.length > 1) {
    throw invalidDataset('a CSV dataset is one training file plus at most one file named like *test*.csv');
  }
  const labels = new LabelDictionary();
  const train = await readSplit(trainFiles[0], undefined, labels, ctx, 'train');
  const test = testFiles.length ? await readSplit(testFiles[0], train.header, labels, ctx, 'test') : undefined;
  const { classNames, toClass } = labels.finish();
  return {
    featureShape: [train.header.length - 1],
    dtype: 'float32',
    classNames,
    train: { x: train.x, y: toClass(train.keys) },
    test: test && { x: test.x, y: toClass(test.keys) },
  };
};

function records(src: NodeJS.ReadableStream): AsyncIterable<{ record: string[]; info: Info }> {
  const parser = parse({ info: true, relax_column_count: true, skip_empty_lines: true, trim: true, bom: true, max_record_size: MAX_RECORD_CHARS });
  // pipeline forwards a failing source (object store) into the parser, so the loop below sees it.
  return pipeline(src, parser, () => {});
}

async function* rows(file: SourceFile): AsyncGenerator<{ record: string[]; line: number }> {
  try {
    for await (const { record, info } of records(await file.open())) yield { record, line: info.lines };
  } catch (err) {
    if (err instanceof CsvError) throw invalidDataset(`${file.path}: ${(err as Error).message}`);
    throw err;
  }
}

/**
 * Streams one file's rows into a float32 spool; labels become provisional keys of `labels`.
 * Features are stored in the order of `trainHeader` (this file's own header for the training file).
 */
async function readSplit(
  file: SourceFile,
  trainHeader: string[] | undefined,
  labels: LabelDictionary,
  ctx: ParseContext,
  split: string,
): Promise<CsvSplit> {
  const spool = await RowSpool.create(ctx, `${split}-x.f32`);
  const keys = new IntList();
  let header: string[] | undefined;
  let columnOf: number[] = []; // columnOf[i] = this file's column holding feature i
  let featureNames: string[] = [];
  let labelAt = -1;
  let features = new Float32Array(0);
  for await (const { record, line } of rows(file)) {
    if (!header) {
      header = trainHeader ?? record;
      ({ columnOf, labelAt } = mapColumns(file, header, record, ctx.labelColumn));
      featureNames = header.filter((name) => name !== ctx.labelColumn);
      features = new Float32Array(featureNames.length);
      continue;
    }
    if (record.length !== header.length) {
      throw invalidDataset(`${file.path} line ${line}: ${record.length} columns, the header has ${header.length}`, { line });
    }
    for (let i = 0; i < features.length; i++) {
      const text = record[columnOf[i]];
      const value = Number(text);
      if (text === '' || !Number.isFinite(value)) {
        throw invalidDataset(`${file.path} line ${line}, column "${featureNames[i]}": "${text}" is not a number`, { line, column: featureNames[i] });
      }
      features[i] = value;
    }
    const label = record[labelAt];
    if (label === '') throw invalidDataset(`${file.path} line ${line}: empty label`, { line, column: ctx.labelColumn });
    ctx.budget.take(1);
    keys.push(labels.keyOf(label));
    await spool.append(new Uint8Array(features.buffer));
  }
  if (!header) throw invalidDataset(`${file.path} is empty`);
  if (keys.length === 0) throw invalidDataset(`${file.path} has a header but no data rows`);
  return { header, x: await spool.finish(keys.length), keys: keys.toInt32Array() };
}

/** Linear in the number of columns (a 60k-column header took 27 s with indexOf scans). */
function mapColumns(file: SourceFile, trainHeader: string[], header: string[], labelColumn: string) {
  const at = new Map<string, number>();
  for (const [i, name] of header.entries()) {
    if (at.has(name)) throw invalidDataset(`${file.path}: column "${name}" appears twice in the header`);
    at.set(name, i);
  }
  const labelAt = at.get(labelColumn) ?? -1;
  if (labelAt < 0) throw invalidDataset(`${file.path}: no label column "${labelColumn}" in the header`, { column: labelColumn });
  if (header.length < 2) throw invalidDataset(`${file.path}: no feature columns besides "${labelColumn}"`);
  if (header.length !== trainHeader.length || trainHeader.some((name) => !at.has(name))) {
    throw invalidDataset(`${file.path}: its columns differ from the training file's`);
  }
  // Feature order is the training header's, so a test file may order its columns differently.
  const columnOf = trainHeader.filter((name) => name !== labelColumn).map((name) => at.get(name)!);
  return { columnOf, labelAt };
}
