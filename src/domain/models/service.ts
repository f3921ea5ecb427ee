// Models: upload (a TF.js Layers model + shards as is, or a Keras/ONNX file converted to one, the format detected
// from the content), read, list, download, archive, delete, and registration of models produced by jobs. REST
// routes and GraphQL resolvers both call this.
import crypto from 'node:crypto';
import type { Config } from '../../config.ts';
import { Prisma, type Db } from '../../db/prisma.ts';
import { AppError, notFound } from '../../errors.ts';
import type { ModelDto, ModelListQuery, ModelPatch } from '../../schemas/model.ts';
import { parsePreprocessing, type Preprocessing } from '../../schemas/preprocessing.ts';
import { declared, detectPreprocessing } from './preprocessing.ts';
import { objectKeys, type ObjectStore } from '../../storage/object-store.ts';
import type { Archive } from '../archive.ts';
import { refuseWhileInUse } from '../in-use.ts';
import { DEFAULT_PROJECT, homeProject, inScope, type ProjectScope } from '../projects.ts';
import { archiveOf, inOrderAsked, listFiles, openFileOf, removedOnFailure, type OpenedFile } from '../stored-files.ts';
import { afterCursor, decodeCursor, nameFilter, newestFirst, toPage } from '../pagination.ts';
import { receiveUpload, type StoredFile, type UploadPart } from '../uploads.ts';
import { checkManifestShapes, checkNoStrayFiles, checkWeightFiles, parseModelJson } from './manifest.ts';
import { checkFiniteWeights } from './finite-weights.ts';
import { convertUpload, isSourcePath, type ModelSource } from './import.ts';
import { modelFlopsOf, summarizeModel } from './summary.ts';
import { formatByExportName } from '../../formats/models/registry.ts';
import { exportInWorker } from '../../formats/models/converter.ts';
import type { ExportOptions, ExportResult, TensorLayout } from '../../formats/models/types.ts';
import { loadArtifactsFromStore } from '../../ml/model-io.ts';

/** Bumped when an exporter's output changes, so clients' cached ETags stop matching. */
const EXPORT_VERSION = 1;

export interface ExportQuery {
  format: string;
  quantized?: ExportOptions['quantized'];
  layout?: TensorLayout;
}

type ModelRow = NonNullable<Awaited<ReturnType<Db['model']['findUnique']>>> & {
  files: { path: string; sizeBytes: bigint; sha256: string; objectKey: string }[];
};

export function toModelDto(row: ModelRow): ModelDto {
  const details = row.sourceDetails as ModelSource['details'] | null;
  return {
    id: row.id,
    projectId: row.projectId,
    name: row.name,
    format: 'tfjs-layers',
    params: Number(row.params),
    sizeBytes: Number(row.sizeBytes),
    inputShape: row.inputShape as ModelDto['inputShape'],
    outputShape: row.outputShape as ModelDto['outputShape'],
    layers: row.layers as ModelDto['layers'],
    flops: modelFlopsOf(row.layers as ModelDto['layers']),
    files: listFiles(row.files),
    producedByJobId: row.producedByJobId,
    parentModelId: row.parentModelId,
    report: (row.report as ModelDto['report']) ?? null,
    sourceFormat: row.sourceFormat as ModelDto['sourceFormat'],
    sourceVersion: row.sourceVersion,
    sourceLayout: row.sourceLayout as ModelDto['sourceLayout'],
    preprocessing: (row.preprocessing as Preprocessing | null) ?? null,
    sourceInputShape: details?.inputShape ?? null,
    importNotes: details?.notes ?? [],
    createdAt: row.createdAt.toISOString(),
  };
}

export interface ModelLineage {
  name: string;
  producedByJobId?: string | null;
  parentModelId?: string | null;
  report?: Record<string, unknown> | null;
  /** What the upload was converted from; job results inherit their parent's. */
  source?: ModelSource;
  /** Declared at upload; absent: detected (uploads) or the parent's (job results). */
  preprocessing?: Preprocessing | null;
  /** Whether this is an upload (detect preprocessing) rather than a job result (inherit). */
  upload?: boolean;
  /** The project it goes to; absent: the producing job's (else the parent's, else the default project). */
  projectId?: string;
}

/** A job result keeps what its parent was converted from (so exports default to the original's layout). */
function inheritedSource(
  parent: { sourceFormat: string; sourceVersion: string | null; sourceLayout: string | null; sourceDetails: unknown } | null,
): ModelSource {
  if (!parent) return { format: 'tfjs-layers', version: null, layout: null, details: null };
  return {
    format: parent.sourceFormat as ModelSource['format'],
    version: parent.sourceVersion,
    layout: parent.sourceLayout as ModelSource['layout'],
    details: parent.sourceDetails as ModelSource['details'] | null,
  };
}

export class ModelService {
  constructor(private readonly deps: { db: Db; store: ObjectStore; config: Config }) {}

  /** Multipart upload: model.json + shards, or one zip holding them; `name` and `preprocessing` (JSON) fields. */
  async upload(scope: ProjectScope, parts: AsyncIterable<UploadPart>): Promise<ModelDto> {
    const id = crypto.randomUUID();
    const { store, config } = this.deps;
    return removedOnFailure(store, objectKeys.modelPrefix(id), async () => {
      const { fields, files } = await receiveUpload(parts, {
        store,
        keyFor: (fileId) => objectKeys.modelFile(id, fileId),
        limits: config.limits,
        expandZips: true,
        tmpDir: config.tmpDir,
      });
      const pre = fields.preprocessing?.trim() ? declared(parsePreprocessing(fields.preprocessing)) : undefined;
      const converted = await convertUpload(files, { store, config, keyFor: (fileId) => objectKeys.modelFile(id, fileId) });
      return this.register(id, converted.files, {
        name: fields.name?.trim() || '',
        source: converted.source,
        preprocessing: pre,
        upload: true,
        projectId: homeProject(scope),
      });
    });
  }

  /** Stores files produced by a job (already in memory: model.json + shards) as a new model with lineage. */
  async createFromFiles(files: { path: string; data: Buffer }[], lineage: ModelLineage): Promise<ModelDto> {
    const id = crypto.randomUUID();
    return removedOnFailure(this.deps.store, objectKeys.modelPrefix(id), async () => {
      const stored: StoredFile[] = [];
      for (const f of files) {
        const objectKey = objectKeys.modelFile(id, crypto.randomUUID());
        stored.push({ path: f.path, objectKey, ...(await this.deps.store.put(objectKey, f.data)) });
      }
      return this.register(id, stored, lineage);
    });
  }

  private async register(id: string, files: StoredFile[], lineage: ModelLineage): Promise<ModelDto> {
    const { db, store, config } = this.deps;
    if (files.length === 0) throw new AppError('INVALID_UPLOAD', 'no files uploaded: send model.json and its weight files, or one .zip holding them');
    const jsons = files.filter((f) => !isSourcePath(f.path) && (f.path === 'model.json' || f.path.endsWith('/model.json')));
    if (jsons.length !== 1) {
      throw new AppError('INVALID_MODEL', jsons.length === 0 ? 'no model.json among the uploaded files' : 'more than one model.json uploaded', {
        files: files.map((f) => f.path),
      });
    }
    const modelJsonFile = jsons[0];
    if (modelJsonFile.sizeBytes > config.limits.maxModelJsonBytes) {
      throw new AppError('PAYLOAD_TOO_LARGE', `model.json larger than ${config.limits.maxModelJsonBytes} bytes`, {
        limitBytes: config.limits.maxModelJsonBytes,
      });
    }
    const modelJson = parseModelJson(await store.getBuffer(modelJsonFile.objectKey));
    // The topology decides the size (shape-only build, no weights created); the manifest must then match it.
    const manifestParams = checkWeightFiles(modelJson, modelJsonFile.path, files).params;
    const summary = await summarizeModel(modelJson);
    const params = Math.max(summary.params, manifestParams);
    if (params > config.limits.maxParams) {
      throw new AppError('RESOURCE_LIMIT', `model has ${params} parameters; the limit is ${config.limits.maxParams}`, {
        params,
        limit: config.limits.maxParams,
      });
    }
    checkManifestShapes(modelJson, summary.weightShapes);
    checkNoStrayFiles(modelJson, modelJsonFile.path, files);
    await checkFiniteWeights(modelJson, modelJsonFile.path, files, store);
    // Paths are stored relative to model.json, the layout tfjs loaders expect.
    const prefix = modelJsonFile.path.slice(0, -'model.json'.length);
    const name = lineage.name || 'model';
    const parent = lineage.parentModelId ? await db.model.findUnique({ where: { id: lineage.parentModelId } }) : null;
    // Job results inherit the job's project: the worker never needs to know whose job it runs.
    const job = lineage.producedByJobId ? await db.job.findUnique({ where: { id: lineage.producedByJobId }, select: { projectId: true } }) : null;
    const projectId = lineage.projectId ?? job?.projectId ?? parent?.projectId ?? DEFAULT_PROJECT;
    const source = lineage.source ?? inheritedSource(parent);
    const preprocessing =
      lineage.preprocessing !== undefined
        ? lineage.preprocessing
        : lineage.upload
          ? detectPreprocessing(source, summary.layers)
          : ((parent?.preprocessing as Preprocessing | null | undefined) ?? null);
    const row = await db.model.create({
      data: {
        id,
        projectId,
        name,
        params: BigInt(summary.params),
        sizeBytes: BigInt(files.reduce((s, f) => s + f.sizeBytes, 0)),
        inputShape: summary.inputShape,
        outputShape: summary.outputShape,
        layers: summary.layers,
        // Reports are built from numbers and strings by the job kinds: JSON by construction.
        report: (lineage.report ?? undefined) as Prisma.InputJsonObject | undefined,
        producedByJobId: lineage.producedByJobId ?? null,
        parentModelId: lineage.parentModelId ?? null,
        sourceFormat: source.format,
        sourceVersion: source.version,
        sourceLayout: source.layout,
        sourceDetails: source.details ?? undefined,
        preprocessing: preprocessing ?? undefined,
        files: {
          create: files.map((f) => ({
            path: f.path.startsWith(prefix) && !isSourcePath(f.path) ? f.path.slice(prefix.length) : f.path,
            sizeBytes: BigInt(f.sizeBytes),
            sha256: f.sha256,
            objectKey: f.objectKey,
          })),
        },
      },
      include: { files: true },
    });
    return toModelDto(row);
  }

  /** PATCH: a new name and/or preprocessing (null clears it). VALIDATION_FAILED names a bad field. */
  async update(scope: ProjectScope, id: string, patch: ModelPatch): Promise<ModelDto> {
    await this.row(scope, id);
    const data: Prisma.ModelUpdateInput = {};
    if (patch.name !== undefined) data.name = patch.name;
    if (patch.preprocessing !== undefined) {
      data.preprocessing = patch.preprocessing === null ? Prisma.DbNull : declared(parsePreprocessing(patch.preprocessing));
    }
    const row = await this.deps.db.model.update({ where: { id }, data, include: { files: true } });
    return toModelDto(row);
  }

  /** The model if the scope sees it; NOT_FOUND otherwise (also for another project's: 404, never 403). */
  private async row(scope: ProjectScope, id: string): Promise<ModelRow> {
    const row = await this.deps.db.model.findFirst({ where: { id, ...inScope(scope) }, include: { files: true } });
    if (!row) throw notFound('model', id);
    return row;
  }

  async get(scope: ProjectScope, id: string): Promise<ModelDto> {
    return toModelDto(await this.row(scope, id));
  }

  /** Object keys of a model's files, for the ML engine's loaders. */
  async storedFiles(scope: ProjectScope, id: string): Promise<{ path: string; objectKey: string }[]> {
    return (await this.row(scope, id)).files.map((f) => ({ path: f.path, objectKey: f.objectKey }));
  }

  async list(scope: ProjectScope, q: ModelListQuery) {
    const limit = q.limit ?? 50;
    const rows = await this.deps.db.model.findMany({
      where: {
        AND: [inScope(scope), nameFilter(q.name), q.parentModelId ? { parentModelId: q.parentModelId } : {}, afterCursor(decodeCursor(q.cursor))],
      },
      orderBy: newestFirst,
      take: limit + 1,
      include: { files: true },
    });
    return toPage(rows, limit, toModelDto);
  }

  async openFile(scope: ProjectScope, id: string, filePath: string): Promise<OpenedFile> {
    return openFileOf(this.deps.store, 'model', await this.row(scope, id), filePath);
  }

  /** A zip of the model's files, streamed entry by entry from the store. */
  async archive(scope: ProjectScope, id: string): Promise<Archive> {
    return archiveOf(this.deps.store, 'model', await this.row(scope, id));
  }

  /**
   * A model written in an export format (registry name). The ETag is known before anything is converted (it hashes
   * the model's files and the options), so a conditional request can be answered without running the exporter.
   * The first build stores the export under the model's prefix (objectKeys.modelExport, keyed by that hash); later
   * requests for the same model, format and options stream it back (`cached: true`) instead of converting again.
   */
  async exportModel(
    scope: ProjectScope,
    id: string,
    q: ExportQuery,
  ): Promise<{ etag: string; fileName: string; build: () => Promise<ExportResult & { cached: boolean }> }> {
    const format = formatByExportName(q.format);
    const row = await this.row(scope, id);
    const files = row.files.filter((f) => !isSourcePath(f.path));
    const opts: ExportOptions = {
      quantized: q.quantized ?? 'qdq',
      // Models imported from NCHW graphs (and their job results) take NCHW again, like the original.
      inputLayout: q.layout ?? (row.sourceLayout === 'NCHW' ? 'NCHW' : 'NHWC'),
      baseName: row.name.replace(/\.(onnx|h5|keras|zip|json)$/i, '').replace(/[^\w.-]+/g, '_') || 'model',
    };
    const hash = crypto.createHash('sha256').update(JSON.stringify({ v: EXPORT_VERSION, format: format.name, ...opts }));
    for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) hash.update(`${f.path}\0${f.sha256}\0`);
    const digest = hash.digest('hex');
    const fileName = `${opts.baseName}${format.extension}`;
    const { store } = this.deps;
    const key = objectKeys.modelExport(id, digest);
    const build = async () => {
      if (await store.stat(key)) return { data: await store.getBuffer(key), fileName, mediaType: format.mediaType, cached: true };
      const artifacts = await loadArtifactsFromStore(store, files);
      const out = await exportInWorker(format.name, artifacts, opts);
      // Buffers cross the worker boundary as plain Uint8Arrays.
      const data = Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength);
      // Same key, same bytes: two concurrent first requests both writing it is harmless.
      await store.put(key, data);
      return { ...out, data, cached: false };
    };
    return { etag: `"${digest}"`, fileName, build };
  }

  // ── Batch reads (GraphQL loaders): a fixed number of queries whatever the number of ids ──

  /** The models with these ids, in the order asked; null where there is none. */
  async getMany(scope: ProjectScope, ids: readonly string[]): Promise<(ModelDto | null)[]> {
    if (ids.length === 0) return [];
    const rows = await this.deps.db.model.findMany({ where: { id: { in: [...new Set(ids)] }, ...inScope(scope) }, include: { files: true } });
    return inOrderAsked(ids, rows, toModelDto);
  }

  /**
   * For each model id: its ancestors' ids (parent first), at most `max` generations, in one recursive query. Ids
   * only: callers load them through getMany, which applies the scope.
   */
  async ancestorIds(ids: readonly string[], max: number): Promise<string[][]> {
    if (ids.length === 0 || max < 1) return ids.map(() => []);
    const rows = await this.deps.db.$queryRaw<{ start: string; id: string }[]>`
      WITH RECURSIVE a ("start", "id", "parent", "depth") AS (
        SELECT m."id", p."id", p."parentModelId", 1
        FROM "Model" m JOIN "Model" p ON p."id" = m."parentModelId"
        WHERE m."id" = ANY(${[...new Set(ids)]}::text[])
        UNION ALL
        SELECT a."start", p."id", p."parentModelId", a."depth" + 1
        FROM a JOIN "Model" p ON p."id" = a."parent"
        WHERE a."depth" < ${max}
      )
      SELECT "start", "id" FROM a ORDER BY "start", "depth"`;
    const byStart = new Map<string, string[]>();
    for (const r of rows) {
      const list = byStart.get(r.start) ?? [];
      list.push(r.id);
      byStart.set(r.start, list);
    }
    return ids.map((id) => byStart.get(id) ?? []);
  }

  async delete(scope: ProjectScope, id: string): Promise<void> {
    const row = await this.row(scope, id);
    await refuseWhileInUse(this.deps.db, 'model', id);
    await this.deps.db.model.delete({ where: { id: row.id } });
    await this.deps.store.deletePrefix(objectKeys.modelPrefix(id));
  }
}
