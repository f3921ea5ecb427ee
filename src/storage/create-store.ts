import type { Config } from '../config.ts';
import { FsObjectStore } from './fs-store.ts';
import type { ObjectStore } from './object-store.ts';
import { S3ObjectStore } from './s3-store.ts';

/** S3-compatible server when S3_ENDPOINT is set (bucket created if missing), else the local filesystem. */
export async function createObjectStore(config: Config): Promise<ObjectStore> {
  const store = config.s3 ? new S3ObjectStore(config.s3) : new FsObjectStore(config.objectsDir);
  await store.init();
  return store;
}
