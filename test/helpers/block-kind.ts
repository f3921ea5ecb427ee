// A job kind that exists only in the tests: `block` holds its worker's main thread synchronously — no await, so no
// timer, I/O callback or promise of that thread runs — until the test releases it, as a long tfjs kernel on a
// loaded machine does. It writes `<jobId>.blocking` (holding Date.now()) into its gate directory just before it
// blocks, and returns once `<jobId>.release` appears there (checked every 20 ms between Atomics.wait naps). Load it
// in a worker child with spawnWorker(ctx, { imports: [BLOCK_KIND_MODULE] }); import it before the app's modules.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Type } from 'typebox';
import type { JobKind } from '../../src/jobs/kind.ts';
import { registerJobKind } from '../../src/jobs/registry.ts';

export const BLOCK_KIND_MODULE = new URL(import.meta.url).pathname;

export const BlockParams = Type.Object({ gate: Type.String({ minLength: 1 }) }, { additionalProperties: false });

/** A fresh gate directory for `block` jobs. */
export const newBlockGate = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mp-block-'));

/** When job `jobId` began blocking its thread (ms since the epoch), or null while it has not. */
export function blockedSince(gate: string, jobId: string): number | null {
  const file = path.join(gate, `${jobId}.blocking`);
  return fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : null;
}

/** Lets job `jobId` return. */
export function releaseBlock(gate: string, jobId: string) {
  fs.writeFileSync(path.join(gate, `${jobId}.release`), '');
}

export const blockKind: JobKind<typeof BlockParams> = {
  type: 'block',
  paramsSchema: BlockParams,
  requires: {},
  trains: false,
  async run(ctx, params) {
    const release = path.join(params.gate, `${ctx.jobId}.release`);
    fs.writeFileSync(path.join(params.gate, `${ctx.jobId}.blocking`), String(Date.now()));
    const nap = new Int32Array(new SharedArrayBuffer(4));
    while (!fs.existsSync(release)) Atomics.wait(nap, 0, 0, 20);
    ctx.throwIfCanceled();
    return { resultModelIds: [], report: { blocked: true } };
  },
};

registerJobKind(blockKind);
