// Embedded default: PGlite (PostgreSQL compiled to WASM) served over the Postgres wire protocol on
// 127.0.0.1, so Prisma's pg adapter, the job system's pool and psql all talk to it exactly as to a real server.
// It requires a password (src/db/pglite-auth.ts), generated at first start and kept in a 0600 file beside the
// database; processes that join a running server (`npm run worker`, the keys CLI) read it from there.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { requirePassword } from './pglite-auth.ts';
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

/** Where a running embedded server advertises its URL (without the password), so `npm run worker` can join it. */
export const embeddedInfoFile = (dbDir: string) => path.join(dbDir, '..', 'embedded-db.json');
/** The embedded database's password: created at first start, mode 0600, kept across restarts. */
export const embeddedPasswordFile = (dbDir: string) => path.join(dbDir, '..', 'embedded-db.password');

/** Reads the password file, creating it (0600, 32 random bytes) if there is none; a too-open file is narrowed to 0600. */
export async function embeddedPassword(dbDir: string): Promise<string> {
  const file = embeddedPasswordFile(dbDir);
  try {
    await fs.writeFile(file, crypto.randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (((await fs.stat(file)).mode & 0o077) !== 0) await fs.chmod(file, 0o600);
  const password = (await fs.readFile(file, 'utf8')).trim();
  if (password.length < 16) throw new Error(`${file}: the embedded database password is shorter than 16 characters`);
  return password;
}

const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  return u.toString();
};

/** `url` with its password replaced by "***", for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}

export async function startEmbeddedPostgres(dbDir: string, preferredPort: number): Promise<EmbeddedPostgres> {
  await fs.mkdir(dbDir, { recursive: true });
  // Choose the port before PGlite opens the data dir: EADDRINUSE after that leaves the socket server broken.
  const port = preferredPort !== 0 && !(await portInUse(preferredPort)) ? preferredPort : await freePort();
  const password = await embeddedPassword(dbDir);
  const db = await PGlite.create(dbDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: MAX_CONNECTIONS });
  keepExtendedBatchesTogether(server);
  requirePassword(server, password);
  await server.start();
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres?sslmode=disable`;
  await fs.writeFile(embeddedInfoFile(dbDir), JSON.stringify({ url, pid: process.pid }), { mode: 0o600 });
  return {
    url: withPassword(url, password),
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
    return withPassword(info.url, await fs.readFile(embeddedPasswordFile(dbDir), 'utf8').then((p) => p.trim()));
  } catch {
    return null;
  }
}
