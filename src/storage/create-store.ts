import type { Config } from '../config.ts';
import { FsObjectStore } from './fs-store.ts';
import type { ObjectStore } from './object-store.ts';
import { S3ObjectStore } from './s3-store.ts';

/** S3-compatible server when S3_ENDPOINT is set (bucket created if missing), else the local filesystem. */
export async function createObjectStore(config: Config): Promise<ObjectStore> {
  if (!config.s3) return new FsObjectStore(config.objectsDir);
  const store = new S3ObjectStore(config.s3);
  await store.init();
  return store;
}
