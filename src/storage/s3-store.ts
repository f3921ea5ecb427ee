// Object store on any S3-compatible server (MinIO in production, Swift s3api in tests) via the `minio` client.
//
// Why put() drives multipart itself instead of calling client.putObject(stream): minio 8.0.7's putObject
// never settles when the body stream errors (it pipes the body without forwarding errors), so a
// maxBytes abort or a dropped client would hang forever and leave the upload open; with an unknown size
// it also buffers ~550 MiB parts. Here a body that fits in one part is one putObject(Buffer); larger
// bodies become a multipart upload with bounded parts that is aborted on any error.
import { Client, S3Error, type BucketItem } from 'minio';
import type { Readable } from 'node:stream';
import { buffer as readAll } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.ts';
import { HashingLimitStream, toReadable } from './hashing.ts';
import { assertDeletablePrefix, assertValidKey, assertValidPrefix, objectNotFound } from './keys.ts';
import type { ByteRange, ObjectInfo, ObjectStore, PutResult } from './object-store.ts';

export interface S3StoreConfig {
  endPoint: string;
  port?: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  region: string;
  bucket: string;
  /** Multipart part size; S3 requires >= 5 MiB for every part but the last. */
  partSizeBytes?: number;
  /** Parts uploaded at once; memory per put is about (partsInFlight + 1) * partSizeBytes. */
  partsInFlight?: number;
}

const MiB = 1024 * 1024;
const DELETE_BATCH = 1000; // the S3 DeleteObjects maximum

/** Splits an endpoint URL such as http://127.0.0.1:8080 into the client's endPoint, port and useSSL. */
export function parseS3Endpoint(endpoint: string): Pick<S3StoreConfig, 'endPoint' | 'port' | 'useSSL'> {
  const url = new URL(endpoint);
  const useSSL = url.protocol === 'https:';
  return { endPoint: url.hostname, port: url.port ? Number(url.port) : useSSL ? 443 : 80, useSSL };
}

const isMissing = (e: unknown) => e instanceof S3Error && (e.code === 'NoSuchKey' || e.code === 'NotFound' || e.code === 'NoSuchBucket');

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  private readonly client: Client;
  private readonly region: string;
  private readonly partSizeBytes: number;
  private readonly partsInFlight: number;

  constructor(config: S3StoreConfig) {
    this.client = new Client({
      endPoint: config.endPoint,
      port: config.port,
      useSSL: config.useSSL,
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      region: config.region,
      pathStyle: true,
    });
    this.bucket = config.bucket;
    this.region = config.region;
    this.partSizeBytes = config.partSizeBytes ?? 16 * MiB;
    this.partsInFlight = config.partsInFlight ?? 2;
    if (this.partSizeBytes < 5 * MiB) throw new AppError('INTERNAL', 'S3 part size must be at least 5 MiB');
  }

  /** Creates the bucket if missing; safe when several processes start at once. */
  async init(): Promise<void> {
    if (await this.client.bucketExists(this.bucket)) return;
    try {
      await this.client.makeBucket(this.bucket, this.region);
    } catch (e) {
      const raced = e instanceof S3Error && (e.code === 'BucketAlreadyOwnedByYou' || e.code === 'BucketAlreadyExists');
      if (!raced || !(await this.client.bucketExists(this.bucket))) throw e;
    }
  }

  async put(key: string, body: Readable | Buffer, opts: { maxBytes?: number; contentType?: string } = {}): Promise<PutResult> {
    assertValidKey(key);
    const headers = { 'Content-Type': opts.contentType ?? 'application/octet-stream' };
    const meter = new HashingLimitStream(opts.maxBytes);
    await pipeline(toReadable(body), meter, (measured: AsyncIterable<Buffer>) => this.upload(key, measured, headers));
    return meter.result();
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    try {
      if (range) return await this.client.getPartialObject(this.bucket, key, range.start, range.end - range.start + 1);
      return await this.client.getObject(this.bucket, key);
    } catch (e) {
      throw isMissing(e) ? objectNotFound(key) : e;
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    return readAll(await this.get(key));
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    assertValidKey(key);
    try {
      const info = await this.client.statObject(this.bucket, key);
      return { sizeBytes: info.size };
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    await this.client.removeObject(this.bucket, key);
  }

  async deletePrefix(prefix: string): Promise<void> {
    assertDeletablePrefix(prefix);
    let batch: string[] = [];
    for await (const key of this.list(prefix)) {
      batch.push(key);
      if (batch.length === DELETE_BATCH) {
        await this.removeBatch(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await this.removeBatch(batch);
  }

  async *list(prefix: string): AsyncIterable<string> {
    assertValidPrefix(prefix);
    // The stream's items are BucketItems (minio types it as a plain Readable).
    for await (const item of this.client.listObjectsV2(this.bucket, prefix, true) as AsyncIterable<BucketItem>) {
      if (item.name) yield item.name;
    }
  }

  async *listAged(prefix: string): AsyncIterable<{ key: string; modifiedAt: Date }> {
    assertValidPrefix(prefix);
    for await (const item of this.client.listObjectsV2(this.bucket, prefix, true) as AsyncIterable<BucketItem>) {
      if (item.name) yield { key: item.name, modifiedAt: item.lastModified ? new Date(item.lastModified) : new Date() };
    }
  }

  async removeStaleTemporaries(olderThan: Date): Promise<number> {
    let removed = 0;
    const stream = this.client.listIncompleteUploads(this.bucket, '', true) as AsyncIterable<{ key: string; initiated?: Date | string }>;
    for await (const upload of stream) {
      if (!upload.initiated || new Date(upload.initiated) >= olderThan) continue;
      await this.client.removeIncompleteUpload(this.bucket, upload.key);
      removed++;
    }
    return removed;
  }

  async ping(): Promise<void> {
    let exists: boolean;
    try {
      exists = await this.client.bucketExists(this.bucket);
    } catch (e) {
      throw new AppError('UNAVAILABLE', `Object store is unreachable: ${(e as Error).message}`, undefined, { cause: e });
    }
    if (!exists) throw new AppError('UNAVAILABLE', `Bucket ${this.bucket} does not exist`);
  }

  private async removeBatch(keys: string[]): Promise<void> {
    const failures = await this.client.removeObjects(this.bucket, keys);
    if (failures.length > 0) {
      throw new AppError('INTERNAL', `Could not delete ${failures.length} objects`, { failures: failures.slice(0, 10) });
    }
  }

  private async upload(key: string, body: AsyncIterable<Buffer>, headers: Record<string, string>): Promise<void> {
    const parts = partsOf(body, this.partSizeBytes)[Symbol.asyncIterator]();
    const first = await parts.next();
    // Only the last part can be short, so a short (or no) first part means the whole body fits one PUT.
    if (first.done || first.value.length < this.partSizeBytes) {
      await this.client.putObject(this.bucket, key, first.done ? Buffer.alloc(0) : first.value, undefined, headers);
      return;
    }
    const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, key, headers);
    const etags: { part: number; etag: string }[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    try {
      let partNumber = 0;
      for (let next: IteratorResult<Buffer> = first; !next.done; next = await parts.next()) {
        const number = ++partNumber;
        const upload: Promise<void> = this.uploadPart(key, uploadId, number, next.value)
          .then((etag) => void etags.push({ part: number, etag }))
          .catch((error: unknown) => void (failure ??= { error }))
          .finally(() => inFlight.delete(upload));
        inFlight.add(upload);
        if (inFlight.size >= this.partsInFlight) await Promise.race(inFlight);
        if (failure) throw failure.error;
      }
      await Promise.all(inFlight);
      if (failure) throw failure.error;
      etags.sort((a, b) => a.part - b.part);
      await this.client.completeMultipartUpload(this.bucket, key, uploadId, etags);
    } catch (e) {
      // Let running part uploads finish first, or one could land after the abort and leak its data.
      await Promise.all(inFlight);
      await this.client.abortMultipartUpload(this.bucket, key, uploadId).catch(() => {});
      throw e;
    }
  }

  private async uploadPart(key: string, uploadId: string, partNumber: number, part: Buffer): Promise<string> {
    const query = new URLSearchParams({ partNumber: String(partNumber), uploadId }).toString();
    const response = await this.client.makeRequestAsyncOmit(
      { method: 'PUT', bucketName: this.bucket, objectName: key, query, headers: { 'Content-Length': part.length } },
      part,
    );
    return String(response.headers.etag ?? '').replace(/^"|"$/g, '');
  }
}

/** Re-chunks a byte stream into buffers of exactly `size` bytes (the last one may be shorter). */
async function* partsOf(source: AsyncIterable<Buffer>, size: number): AsyncIterable<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (let chunk of source) {
    while (pendingBytes + chunk.length >= size) {
      const take = size - pendingBytes;
      pending.push(chunk.subarray(0, take));
      yield Buffer.concat(pending, size);
      pending = [];
      pendingBytes = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length > 0) {
      pending.push(chunk);
      pendingBytes += chunk.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}
