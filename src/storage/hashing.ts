// Shared by every ObjectStore: measures what flows through a put (size + sha256) and enforces maxBytes,
// so a too-large body is refused while streaming instead of after it has been stored.
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { AppError } from '../errors.ts';
import type { PutResult } from './object-store.ts';

/** Buffer size of the streams on the upload path (per upload in flight). */
export const STREAM_BUFFER_BYTES = 1 << 20;

export class HashingLimitStream extends Transform {
  private readonly hash = createHash('sha256');
  private sizeBytes = 0;

  constructor(private readonly maxBytes?: number) {
    // Larger buffers than the 16 KiB default: fewer backpressure round trips at a few hundred MB/s.
    super({ highWaterMark: STREAM_BUFFER_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sizeBytes += chunk.length;
    if (this.maxBytes !== undefined && this.sizeBytes > this.maxBytes) {
      callback(
        new AppError('PAYLOAD_TOO_LARGE', `Upload exceeds the limit of ${this.maxBytes} bytes`, {
          limitBytes: this.maxBytes,
        }),
      );
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  /** Size and digest of everything that passed; call only after the stream has finished. */
  result(): PutResult {
    return { sizeBytes: this.sizeBytes, sha256: this.hash.digest('hex') };
  }
}

export const toReadable = (body: Readable | Buffer): Readable => (Buffer.isBuffer(body) ? Readable.from([body]) : body);
