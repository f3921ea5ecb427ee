// One contract for every ObjectStore: FsObjectStore always, S3ObjectStore when S3_ENDPOINT names a server
// (bash scripts/s3-test-server.sh start /tmp/swift-dev, then export the env it prints).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it, test } from 'node:test';
import { Client } from 'minio';
import { AppError } from '../../src/errors.ts';
import { FsObjectStore } from '../../src/storage/fs-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { S3ObjectStore } from '../../src/storage/s3-store.ts';
import { realTargetRequired, S3_SKIP_MESSAGE, s3TestConfig, uniqueBucket } from '../helpers/s3.ts';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

const rejectsWithCode = (promise: Promise<unknown>, code: string) =>
  assert.rejects(promise, (e: unknown) => e instanceof AppError && e.code === code);

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** `totalBytes` of pseudo-random data as a stream of odd-sized chunks; `digest()` is valid once consumed. */
function generatedStream(totalBytes: number, chunkBytes = 1_000_003) {
  const block = randomBytes(chunkBytes);
  const hash = createHash('sha256');
  let sent = 0;
  let index = 0;
  const stream = new Readable({
    read() {
      if (sent >= totalBytes) return void this.push(null);
      const chunk = Buffer.from(block.subarray(0, Math.min(chunkBytes, totalBytes - sent)));
      chunk.writeUInt32LE(index++ >>> 0, 0); // every chunk differs, so misordered parts change the digest
      hash.update(chunk);
      sent += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

/** Stream that yields `bytesBeforeError` bytes and then fails like a dropped client connection. */
function failingStream(bytesBeforeError: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return void this.destroy(new Error('client went away'));
      sent = true;
      this.push(randomBytes(bytesBeforeError));
    },
  });
}

async function sha256OfStream(stream: Readable): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    sizeBytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

interface Harness {
  store: ObjectStore;
  /** Asserts no partial upload or temp file is left behind anywhere in the store. */
  assertNoLeftovers(): Promise<void>;
  cleanup(): Promise<void>;
}

function objectStoreContract(name: string, setup: () => Promise<Harness>, bigObjectBytes: number) {
  describe(`${name} contract`, () => {
    let h: Harness;
    let store: ObjectStore;
    before(async () => {
      h = await setup();
      store = h.store;
    });
    after(() => h.cleanup());

    it('round-trips a Buffer with size and sha256', async () => {
      const data = randomBytes(100_000);
      const result = await store.put('models/m1/model.json', data, { contentType: 'application/json' });
      assert.deepEqual(result, { sizeBytes: data.length, sha256: sha256(data) });
      assert.deepEqual(await store.getBuffer('models/m1/model.json'), data);
      assert.deepEqual(await sha256OfStream(await store.get('models/m1/model.json')), result);
    });

    it('puts a stream, an empty body, and overwrites a key', async () => {
      const { stream, digest } = generatedStream(3 * MiB + 5, 70_001);
      const result = await store.put('datasets/d1/x.npy', stream);
      assert.deepEqual(result, { sizeBytes: 3 * MiB + 5, sha256: digest() });

      const empty = await store.put('datasets/d1/empty', Buffer.alloc(0));
      assert.deepEqual(empty, { sizeBytes: 0, sha256: sha256(Buffer.alloc(0)) });
      assert.equal((await store.getBuffer('datasets/d1/empty')).length, 0);

      await store.put('datasets/d1/x.npy', Buffer.from('second'));
      assert.equal((await store.getBuffer('datasets/d1/x.npy')).toString(), 'second');
    });

    it('stats present and missing keys', async () => {
      await store.put('stat/a', Buffer.from('12345'));
      assert.deepEqual(await store.stat('stat/a'), { sizeBytes: 5 });
      assert.equal(await store.stat('stat/missing'), null);
      assert.equal(await store.stat('stat'), null, 'a prefix is not an object');
    });

    it('reports a missing key as NOT_FOUND and deletes idempotently', async () => {
      await rejectsWithCode(store.get('nope/x'), 'NOT_FOUND');
      await rejectsWithCode(store.getBuffer('nope/x'), 'NOT_FOUND');
      await store.put('del/x', Buffer.from('x'));
      await store.delete('del/x');
      assert.equal(await store.stat('del/x'), null);
      await store.delete('del/x');
    });

    it('lists keys recursively by string prefix', async () => {
      for (const key of ['ls/a/1', 'ls/a/2', 'ls/a/b/3', 'ls/ab/4', 'ls/c']) await store.put(key, Buffer.from(key));
      assert.deepEqual((await collect(store.list('ls/a/'))).sort(), ['ls/a/1', 'ls/a/2', 'ls/a/b/3']);
      assert.deepEqual((await collect(store.list('ls/a'))).sort(), ['ls/a/1', 'ls/a/2', 'ls/a/b/3', 'ls/ab/4']);
      assert.deepEqual(await collect(store.list('ls/zzz/')), []);
    });

    it('deletes a prefix and nothing outside it', async () => {
      for (const key of ['dp/a/1', 'dp/a/b/2', 'dp/ab/3']) await store.put(key, Buffer.from(key));
      await store.deletePrefix('dp/a/');
      assert.deepEqual(await collect(store.list('dp/')), ['dp/ab/3']);
      await store.deletePrefix('dp/never-existed/');
      await rejectsWithCode(store.deletePrefix(''), 'INTERNAL');
    });

    it('aborts a put over maxBytes with PAYLOAD_TOO_LARGE and leaves nothing', async () => {
      await rejectsWithCode(store.put('limit/small', Buffer.alloc(101), { maxBytes: 100 }), 'PAYLOAD_TOO_LARGE');
      const { stream } = generatedStream(48 * MiB);
      await rejectsWithCode(store.put('limit/big', stream, { maxBytes: 36 * MiB }), 'PAYLOAD_TOO_LARGE');
      assert.equal(await store.stat('limit/small'), null);
      assert.equal(await store.stat('limit/big'), null);
      assert.deepEqual(await collect(store.list('limit/')), []);
      const exact = await store.put('limit/exact', Buffer.alloc(100), { maxBytes: 100 });
      assert.equal(exact.sizeBytes, 100);
      await h.assertNoLeftovers();
    });

    it('fails a put whose source stream errors and leaves nothing', async () => {
      await assert.rejects(store.put('broken/small', failingStream(1000)), /client went away/);
      await assert.rejects(store.put('broken/big', failingStream(40 * MiB)), /client went away/);
      assert.deepEqual(await collect(store.list('broken/')), []);
      await h.assertNoLeftovers();
    });

    it('rejects keys that could escape the store', async () => {
      for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a\\b', 'a\0b', 'a//b', '', 'a/.hidden']) {
        await rejectsWithCode(store.put(key, Buffer.from('x')), 'INTERNAL');
      }
    });

    it(`streams a ${(bigObjectBytes / MiB).toFixed(1)} MiB body in and out, checked by sha256`, async (t) => {
      const { stream, digest } = generatedStream(bigObjectBytes);
      const started = process.hrtime.bigint();
      const result = await store.put('big/blob', stream);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      t.diagnostic(`${name} put ${(bigObjectBytes / MiB).toFixed(1)} MiB: ${(bigObjectBytes / 1e6 / seconds).toFixed(0)} MB/s`);
      assert.deepEqual(result, { sizeBytes: bigObjectBytes, sha256: digest() });
      assert.deepEqual(await store.stat('big/blob'), { sizeBytes: bigObjectBytes });
      assert.deepEqual(await sha256OfStream(await store.get('big/blob')), result);
    });

    it('answers ping', async () => {
      await store.ping();
    });
  });
}

objectStoreContract(
  'FsObjectStore',
  async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'objstore-'));
    const store = new FsObjectStore(root);
    await store.init();
    return {
      store,
      async assertNoLeftovers() {
        const all = await readdir(root, { recursive: true });
        assert.deepEqual(
          all.filter((name) => path.basename(name).startsWith('.')),
          [],
          'temp files left behind',
        );
      },
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  },
  64 * MiB,
);

const s3 = s3TestConfig();
if (!s3) {
  // Required (CI, or MODELPRESS_TEST_TARGETS names real): fail with the reason rather than skip silently.
  if (realTargetRequired()) test('S3ObjectStore contract', () => assert.fail(`the real target is required but ${S3_SKIP_MESSAGE}`));
  else test('S3ObjectStore contract', (t) => t.skip(S3_SKIP_MESSAGE));
} else {
  const bucket = uniqueBucket('objstore-test');
  const admin = new Client({ ...s3, pathStyle: true });

  objectStoreContract(
    'S3ObjectStore',
    async () => {
      const store = new S3ObjectStore({ ...s3, bucket });
      await store.init();
      return {
        store,
        async assertNoLeftovers() {
          // Swift s3api sometimes lists a bare common-prefix entry ({ prefix: '' }); only entries with an
          // upload id are open uploads.
          const open = (await collect(admin.listIncompleteUploads(bucket, '', true))).filter(
            (u) => (u as { uploadId?: string }).uploadId || (u as { key?: string }).key,
          );
          assert.deepEqual(open, [], 'multipart uploads left open');
        },
        async cleanup() {
          await store.deletePrefix('big/');
          for await (const key of store.list('')) await store.delete(key);
          await admin.removeBucket(bucket);
        },
      };
    },
    64 * MiB + 12_345,
  );

  describe('S3ObjectStore setup', () => {
    it('init creates the bucket once even when raced', async () => {
      const raced = uniqueBucket('objstore-race');
      const stores = [1, 2, 3].map(() => new S3ObjectStore({ ...s3, bucket: raced }));
      await Promise.all(stores.map((s) => s.init()));
      await stores[0].init();
      await stores[0].ping();
      await admin.removeBucket(raced);
    });

    it('ping fails with UNAVAILABLE when the bucket is missing or the secret is wrong', async () => {
      await rejectsWithCode(new S3ObjectStore({ ...s3, bucket: uniqueBucket('objstore-none') }).ping(), 'UNAVAILABLE');
      const wrongSecret = new S3ObjectStore({ ...s3, secretKey: 'not-the-secret', bucket });
      await rejectsWithCode(wrongSecret.ping(), 'UNAVAILABLE');
      await assert.rejects(wrongSecret.put('denied/x', Buffer.from('x')), (e: unknown) => {
        return (e as { code?: string }).code === 'SignatureDoesNotMatch' || (e as { code?: string }).code === 'AccessDenied';
      });
    });
  });
}
