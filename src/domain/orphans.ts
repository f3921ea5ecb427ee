// Orphan sweeper: removes objects that no row owns. Uploads and job results write their objects first and the row
// last, so a process killed in between (SIGKILL during a slow upload, a worker dying while saving its result) left
// objects nothing referenced or cleaned, even after a restart. An object under models/<id>/ or datasets/<id>/ is
// an orphan when no Model / Dataset row has that id and it is older than the grace period (an upload still in
// flight is younger; the default grace is longer than the request timeout). Objects under other prefixes are never
// touched. Stale temporaries of interrupted puts (fs `.tmp-*` files, S3 incomplete multipart uploads) go too.
// The API server sweeps at start and then every interval (MODELPRESS_SWEEP_*).
import type { Db } from '../db/prisma.ts';
import type { ObjectStore } from '../storage/object-store.ts';

export interface SweepResult {
  /** Orphaned object keys removed. */
  removed: string[];
  /** Temporaries of interrupted puts removed. */
  temporaries: number;
}

const OWNED = /^(models|datasets)\/([^/]+)\//;
const BATCH = 500;

export async function sweepOrphans(deps: { db: Db; store: ObjectStore }, opts: { graceMs: number; now?: number }): Promise<SweepResult> {
  const { db, store } = deps;
  const cutoff = new Date((opts.now ?? Date.now()) - opts.graceMs);
  if (!store.listAged) return { removed: [], temporaries: 0 };
  // Old objects grouped by owner; only owners with an old object are looked up.
  const candidates = new Map<string, string[]>();
  for await (const { key, modifiedAt } of store.listAged('')) {
    const m = OWNED.exec(key);
    if (!m || modifiedAt >= cutoff) continue;
    const owner = `${m[1]}/${m[2]}`;
    const keys = candidates.get(owner);
    if (keys) keys.push(key);
    else candidates.set(owner, [key]);
  }
  const owners = [...candidates.keys()];
  const existing = new Set<string>();
  for (let i = 0; i < owners.length; i += BATCH) {
    const batch = owners.slice(i, i + BATCH);
    const ids = (kind: string) => batch.filter((o) => o.startsWith(`${kind}/`)).map((o) => o.slice(kind.length + 1));
    const [models, datasets] = await Promise.all([
      db.model.findMany({ where: { id: { in: ids('models') } }, select: { id: true } }),
      db.dataset.findMany({ where: { id: { in: ids('datasets') } }, select: { id: true } }),
    ]);
    for (const r of models) existing.add(`models/${r.id}`);
    for (const r of datasets) existing.add(`datasets/${r.id}`);
  }
  const removed: string[] = [];
  for (const [owner, keys] of candidates) {
    if (existing.has(owner)) continue;
    for (const key of keys) {
      await store.delete(key);
      removed.push(key);
    }
  }
  const temporaries = (await store.removeStaleTemporaries?.(cutoff)) ?? 0;
  return { removed, temporaries };
}

/** Sweeps now and every `intervalMs` (0: only now); stop() ends it. Failures are logged, never thrown. */
export function startOrphanSweeper(
  deps: { db: Db; store: ObjectStore },
  opts: { graceMs: number; intervalMs: number },
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void },
): { first: Promise<void>; stop(): void } {
  let running: Promise<void> | null = null;
  const run = () =>
    (running ??= sweepOrphans(deps, { graceMs: opts.graceMs })
      .then((r) => {
        if (r.removed.length || r.temporaries) log.info({ removed: r.removed.length, temporaries: r.temporaries }, 'orphan sweep removed objects');
      })
      .catch((err: unknown) => log.warn({ err }, 'orphan sweep failed'))
      .finally(() => {
        running = null;
      }));
  const first = run();
  const timer = opts.intervalMs > 0 ? setInterval(() => void run(), opts.intervalMs) : null;
  timer?.unref();
  return { first, stop: () => timer && clearInterval(timer) };
}
