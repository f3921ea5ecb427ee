// Put throughput of the object stores for one streamed object (default 64 MiB).
//   node --import tsx bench/upload-store.ts [MiB]                 fs only
//   S3_ENDPOINT=http://127.0.0.1:8080 node --import tsx bench/upload-store.ts [MiB]   fs + S3 part-size variants
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FsObjectStore } from '../src/storage/fs-store.ts';
import type { ObjectStore } from '../src/storage/object-store.ts';
import { S3ObjectStore } from '../src/storage/s3-store.ts';
import { s3TestConfig, uniqueBucket } from '../test/helpers/s3.ts';

const MiB = 1024 * 1024;
const totalBytes = Number(process.argv[2] ?? 64) * MiB;
const block = randomBytes(MiB);

/** The body is generated on the fly (one shared block), so the figure measures the store, not the source. */
function body(): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= totalBytes) return void this.push(null);
      const chunk = block.subarray(0, Math.min(MiB, totalBytes - sent));
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

async function measure(label: string, store: ObjectStore, runs = 3): Promise<void> {
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    await store.put(`bench/${i}`, body());
    rates.push(totalBytes / 1e6 / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  await store.deletePrefix('bench/');
  const sorted = rates.sort((a, b) => a - b);
  console.log(`${label.padEnd(40)} median ${sorted[Math.floor(runs / 2)].toFixed(0)} MB/s  (runs: ${sorted.map((r) => r.toFixed(0)).join(', ')})`);
}

const root = await mkdtemp(path.join(tmpdir(), 'bench-objstore-'));
const fsStore = new FsObjectStore(root);
await fsStore.init();
await measure(`fs ${totalBytes / MiB} MiB`, fsStore);
await rm(root, { recursive: true, force: true });

const s3 = s3TestConfig();
if (s3) {
  const bucket = uniqueBucket('bench-objstore');
  for (const [partMiB, partsInFlight] of [
    [16, 2],
    [8, 4],
    [16, 4],
  ] as const) {
    const store = new S3ObjectStore({ ...s3, bucket, partSizeBytes: partMiB * MiB, partsInFlight });
    await store.init();
    await measure(`s3 ${totalBytes / MiB} MiB, ${partMiB} MiB parts x${partsInFlight}`, store);
  }
} else {
  console.log('S3_ENDPOINT not set: S3 skipped');
}
