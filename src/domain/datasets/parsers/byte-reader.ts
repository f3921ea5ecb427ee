// Pulls exact byte counts out of a stream: fixed-size headers first, then a data section of known length
// delivered in chunks aligned to whole elements (so typed-array views never straddle chunks).
import { invalidDataset } from './limits.ts';

const asBuffer = (chunk: Buffer | Uint8Array | string): Buffer =>
  typeof chunk === 'string'
    ? Buffer.from(chunk, 'latin1')
    : Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);

export class ByteReader {
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;
  private pending: Buffer = Buffer.alloc(0);

  /** `what` names the file in error messages. */
  constructor(
    source: AsyncIterable<Buffer | Uint8Array | string>,
    private readonly what: string,
  ) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** The next `n` bytes; INVALID_DATASET if the stream ends first. Meant for headers (small n). */
  async read(n: number, part: string): Promise<Buffer> {
    while (this.pending.length < n) {
      const next = await this.it.next();
      if (next.done) throw invalidDataset(`${this.what}: file ends inside the ${part}`);
      this.pending = Buffer.concat([this.pending, asBuffer(next.value)]);
    }
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return out;
  }

  /** Exactly `bytes` more bytes followed by the end of the stream, in chunks whose lengths are multiples of `align`. */
  async *exact(bytes: number, align: number): AsyncGenerator<Buffer> {
    let remaining = bytes;
    let carry = Buffer.alloc(0);
    let chunk = this.pending;
    this.pending = Buffer.alloc(0);
    for (;;) {
      if (chunk.length > remaining) throw invalidDataset(`${this.what}: more data than its header says (expected ${bytes} bytes)`);
      remaining -= chunk.length;
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const cut = buf.length - (buf.length % align);
      if (cut > 0) yield buf.subarray(0, cut);
      carry = Buffer.from(buf.subarray(cut));
      const next = await this.it.next();
      if (next.done) break;
      chunk = asBuffer(next.value);
    }
    if (remaining > 0) throw invalidDataset(`${this.what}: data is shorter than its header says (${bytes - remaining} of ${bytes} bytes)`);
  }

  /** Stops reading early (destroys the underlying stream). */
  async close(): Promise<void> {
    await this.it.return?.();
  }
}
