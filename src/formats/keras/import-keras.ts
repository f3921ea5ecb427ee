// Keras 3 `.keras` files: a zip of config.json (the Keras 3 model config), metadata.json (keras_version) and
// model.weights.h5 (variables in Keras 3's layers/<class>/vars layout). The zip is read within the upload's budgets
// (entry count, bytes per entry, expanded total), the weights entry goes to a temp file for h5wasm.
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { AppError, isAppError } from '../../errors.ts';
import type { ImportContext, ImportResult, LocalFile } from '../models/types.ts';
import { isObject, translateKerasConfig } from './config.ts';
import { H5Reader } from './h5-file.ts';
import { importKeras3Weights } from './keras3-weights.ts';

const invalid = (msg: string) => new AppError('INVALID_MODEL', msg);

async function readEntries(zip: ZipFile, label: string, ctx: ImportContext): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  let expanded = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith('/')) continue;
      expanded += entry.uncompressedSize;
      if (entries.size >= ctx.limits.maxFiles) throw new AppError('PAYLOAD_TOO_LARGE', `${label} has more than ${ctx.limits.maxFiles} entries`);
      if (entry.uncompressedSize > ctx.limits.maxFileBytes || expanded > ctx.limits.maxRequestBytes) {
        throw new AppError('PAYLOAD_TOO_LARGE', `${label}: ${entry.fileName} expands beyond the upload limit`, {
          limitBytes: ctx.limits.maxFileBytes,
        });
      }
      entries.set(entry.fileName, entry);
    }
  } catch (err) {
    if (isAppError(err)) throw err;
    throw invalid(`${label}: bad zip entry: ${(err as Error).message}`);
  }
  return entries;
}

/** Streams an entry out, stopping at `maxBytes` whatever its header claims. */
async function copyEntry(zip: ZipFile, entry: Entry, dest: string, maxBytes: number, label: string): Promise<void> {
  const stream = await zip.openReadStreamPromise(entry).catch((err: unknown) => {
    throw invalid(`${label}: cannot read ${entry.fileName}: ${(err as Error).message}`);
  });
  let seen = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > maxBytes) cb(new AppError('PAYLOAD_TOO_LARGE', `${label}: ${entry.fileName} expands beyond ${maxBytes} bytes`));
      else cb(null, chunk);
    },
  });
  try {
    await pipeline(stream, meter, createWriteStream(dest, { flags: 'wx' }));
  } catch (err) {
    if (isAppError(err)) throw err;
    throw invalid(`${label}: corrupt entry ${entry.fileName}: ${(err as Error).message}`);
  }
}

async function readJsonFile(file: string, label: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw invalid(`${label} is not valid JSON: ${(err as Error).message}`);
  }
}

async function readJsonEntry(zip: ZipFile, entry: Entry, ctx: ImportContext, label: string): Promise<unknown> {
  const dest = path.join(ctx.workDir, `entry-${entry.fileName.replace(/\W/g, '_')}`);
  await copyEntry(zip, entry, dest, ctx.limits.maxModelJsonBytes, label);
  return readJsonFile(dest, `${label}: ${entry.fileName}`);
}

/** Imports one `.keras` file, or its three entries when the zip was uploaded as .zip and expanded. */
export async function importKerasZip(files: LocalFile[], ctx: ImportContext): Promise<ImportResult> {
  const expandedConfig = files.find((f) => f.path === 'config.json');
  const expandedWeights = files.find((f) => f.path === 'model.weights.h5');
  if (expandedConfig && expandedWeights) {
    const metadata = files.find((f) => f.path === 'metadata.json');
    return importParts(
      await readJsonFile(expandedConfig.localPath, expandedConfig.path),
      metadata ? await readJsonFile(metadata.localPath, metadata.path) : null,
      expandedWeights.localPath,
    );
  }
  const file = files[0];
  let zip: ZipFile;
  try {
    // Not strictFileNames: a .keras written on Windows may use backslashes; yauzl turns them into '/'.
    zip = await yauzl.openPromise(file.localPath, { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true });
  } catch (err) {
    throw invalid(`${file.path} is not a valid .keras (zip) file: ${(err as Error).message}`);
  }
  try {
    const entries = await readEntries(zip, file.path, ctx);
    const configEntry = entries.get('config.json');
    const weightsEntry = entries.get('model.weights.h5');
    if (!configEntry || !weightsEntry) throw invalid(`${file.path} lacks config.json or model.weights.h5: not a Keras 3 .keras file`);
    const config = await readJsonEntry(zip, configEntry, ctx, file.path);
    const metadataEntry = entries.get('metadata.json');
    const metadata = metadataEntry ? await readJsonEntry(zip, metadataEntry, ctx, file.path) : null;
    const weightsPath = path.join(ctx.workDir, 'model.weights.h5');
    await copyEntry(zip, weightsEntry, weightsPath, ctx.limits.maxFileBytes, file.path);
    return await importParts(config, metadata, weightsPath);
  } finally {
    zip.close();
  }
}

async function importParts(config: unknown, metadata: unknown, weightsPath: string): Promise<ImportResult> {
  const version = isObject(metadata) && typeof metadata.keras_version === 'string' ? metadata.keras_version : null;
  const topology = translateKerasConfig(config, version);
  const reader = await H5Reader.open(weightsPath, 'model.weights.h5');
  try {
    return await importKeras3Weights(reader, topology, { version, notes: [] });
  } finally {
    reader.close();
  }
}
