// Builds (once per migration set) an embedded database directory with every migration applied and prints its
// path. `npm test` hands it to the suites (MODELPRESS_TEST_PGLITE_TEMPLATE) and test/helpers/harness.ts copies it
// into each embedded target's data dir: a PGlite first start (initdb inside wasm) costs ~4.4 s of CPU, a start on
// an initialised directory ~0.8 s, and the suite starts dozens of embedded databases.
//   node --import tsx scripts/pglite-template.ts [parentDir]
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { applyMigrations } from '../src/db/migrate.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Migrations and the PGlite version name the template: a changed one builds a new directory. */
async function templateKey(): Promise<string> {
  const hash = crypto.createHash('sha256');
  const migrations = path.join(root, 'prisma/migrations');
  for (const name of (await fs.readdir(migrations)).sort()) {
    const file = path.join(migrations, name, 'migration.sql');
    hash.update(name).update(await fs.readFile(file).catch(() => Buffer.alloc(0)));
  }
  hash.update(await fs.readFile(path.join(root, 'node_modules/@electric-sql/pglite/package.json')));
  return hash.digest('hex').slice(0, 16);
}

const parent = process.argv[2] ?? os.tmpdir();
const dir = path.join(parent, `modelpress-pglite-template-${await templateKey()}`);
const done = path.join(dir, 'complete');
if (!(await fs.stat(done).catch(() => null))) {
  // Built beside its final name and renamed: a concurrent or interrupted build never leaves a half directory.
  const work = await fs.mkdtemp(`${dir}.building-`);
  const db = await startEmbeddedPostgres(path.join(work, 'db'), 0);
  try {
    await applyMigrations(db.url);
  } finally {
    await db.stop();
  }
  await fs.writeFile(path.join(work, 'complete'), new Date().toISOString());
  await fs.rename(work, dir).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    await fs.rm(work, { recursive: true, force: true }); // another run finished first
  });
}
process.stdout.write(path.join(dir, 'db'));
