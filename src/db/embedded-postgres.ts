// Embedded default: PGlite (PostgreSQL compiled to WASM) served over the Postgres wire protocol on
// 127.0.0.1, so Prisma's pg adapter, the job system's pool and psql all talk to it exactly as to a real server.
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { keepExtendedBatchesTogether } from './pglite-socket-batches.ts';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/** PGlite drops connections beyond this; it must cover the Prisma pool + job system pool + LISTEN clients. */
const MAX_CONNECTIONS = 40;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Where a running embedded server advertises its URL, so `npm run worker` can join it. */
export const embeddedInfoFile = (dbDir: string) => path.join(dbDir, '..', 'embedded-db.json');

export async function startEmbeddedPostgres(dbDir: string, preferredPort: number): Promise<EmbeddedPostgres> {
  await fs.mkdir(dbDir, { recursive: true });
  // Choose the port before PGlite opens the data dir: EADDRINUSE after that leaves the socket server broken.
  const port = preferredPort !== 0 && !(await portInUse(preferredPort)) ? preferredPort : await freePort();
  const db = await PGlite.create(dbDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: MAX_CONNECTIONS });
  keepExtendedBatchesTogether(server);
  await server.start();
  const url = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres?sslmode=disable`;
  await fs.writeFile(embeddedInfoFile(dbDir), JSON.stringify({ url, pid: process.pid }));
  return {
    url,
    async stop() {
      await fs.rm(embeddedInfoFile(dbDir), { force: true });
      await server.stop();
      await db.close();
    },
  };
}

/** The URL of an embedded server another local process is running on `dbDir`, if any. */
export async function findRunningEmbedded(dbDir: string): Promise<string | null> {
  try {
    const info = JSON.parse(await fs.readFile(embeddedInfoFile(dbDir), 'utf8')) as { url: string; pid: number };
    process.kill(info.pid, 0);
    return info.url;
  } catch {
    return null;
  }
}
