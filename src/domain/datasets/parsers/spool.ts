// Rows are appended to a temp file (through a small write buffer) so no split is ever held in memory whole.
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParseContext, SpooledFeatures } from './types.ts';

const BUFFER_BYTES = 1 << 20;

export class RowSpool {
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  private bytes = 0;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  static async create(ctx: ParseContext, name: string): Promise<RowSpool> {
    const path = join(ctx.workDir, name);
    const fh = await open(path, 'wx');
    ctx.defer(() => fh.close().catch(() => {}));
    return new RowSpool(path, fh);
  }

  get byteLength(): number {
    return this.bytes + this.used;
  }

  async append(bytes: Uint8Array): Promise<void> {
    if (this.used + bytes.length > BUFFER_BYTES) await this.flush();
    if (bytes.length > BUFFER_BYTES) {
      await this.fh.write(bytes);
      this.bytes += bytes.length;
      return;
    }
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  /** Flushes and closes the file; `rows` is how many rows the appended bytes hold. */
  async finish(rows: number): Promise<SpooledFeatures> {
    await this.flush();
    await this.fh.close();
    const path = this.path;
    return { rows, data: () => createReadStream(path) };
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.fh.write(this.buffer, 0, this.used);
    this.bytes += this.used;
    this.used = 0;
  }
}
