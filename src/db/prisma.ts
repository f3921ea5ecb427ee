import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.ts';
import { DEFAULT_DB_TIMEOUTS, GuardedPool, type DbTimeouts } from './pg-pool.ts';

export type Db = PrismaClient;
export { Prisma } from './generated/client.ts';

type PgAdapter = Awaited<ReturnType<PrismaPg['connect']>>;
type PgTransaction = Awaited<ReturnType<PgAdapter['startTransaction']>>;

/**
 * Prisma's transaction manager sends COMMIT/ROLLBACK with executeRaw and calls commit()/rollback() (which return
 * the connection to the pool) only when that succeeded: a COMMIT/ROLLBACK that throws (the connection was cut,
 * or the server refused the COMMIT) left the connection checked out for good. Here it is returned either way.
 */
function releasedWhenEndFails(tx: PgTransaction): PgTransaction {
  const executeRaw = tx.executeRaw.bind(tx);
  tx.executeRaw = async (query) => {
    try {
      return await executeRaw(query);
    } catch (err) {
      if (/^\s*(COMMIT|ROLLBACK)\s*;?\s*$/i.test(query.sql)) await tx.rollback().catch(() => {});
      throw err;
    }
  };
  return tx;
}

/** Prisma's pg driver adapter over a GuardedPool (src/db/pg-pool.ts): bounded waits, no connection leaked by a cut. */
class BoundedPrismaPg extends PrismaPg {
  constructor(
    private readonly poolConfig: { connectionString: string; max: number },
    private readonly timeouts: DbTimeouts,
  ) {
    super(poolConfig);
  }

  override async connect(): Promise<PgAdapter> {
    const adapter = await new PrismaPg(new GuardedPool(this.poolConfig, this.timeouts), { disposeExternalPool: true }).connect();
    const startTransaction = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (isolationLevel) => releasedWhenEndFails(await startTransaction(isolationLevel));
    return adapter;
  }
}

export function createPrisma(databaseUrl: string, opts: { poolSize?: number; timeouts?: DbTimeouts } = {}): Db {
  const adapter = new BoundedPrismaPg({ connectionString: databaseUrl, max: opts.poolSize ?? 10 }, opts.timeouts ?? DEFAULT_DB_TIMEOUTS);
  return new PrismaClient({ adapter });
}
