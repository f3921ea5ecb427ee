// Prisma CLI config (generate, migrate diff/deploy/status) using the Rust-free engine and the pg adapter,
// so the CLI works offline. The service itself applies migrations with src/db/migrate.ts.
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';

// Without DATABASE_URL the CLI falls back to downloading Rust engines (fails offline).
process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  async adapter() {
    // @prisma/adapter-pg 6.x cannot decode the `name` type (OID 19) that migrate reads: report it as text.
    const pool = new pg.Pool({
      connectionString: process.env.DATABASE_URL,
      allowExitOnIdle: true,
      types: {
        getTypeParser: (oid: number, format?: Parameters<typeof pg.types.getTypeParser>[1]): unknown =>
          pg.types.getTypeParser(oid === 19 ? 25 : oid, format),
      },
    });
    return new PrismaPg(pool);
  },
});
