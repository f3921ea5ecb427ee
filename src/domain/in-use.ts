// A model or dataset that a queued or running job names as an input cannot be deleted (409 IN_USE): the job
// would otherwise lose its input mid-run. Jobs that have finished do not hold it.
import type { Db } from '../db/prisma.ts';
import { AppError } from '../errors.ts';

const ACTIVE = ['queued', 'running'];

/** Throws IN_USE, naming the jobs, while an active job uses model or dataset `id`. */
export async function refuseWhileInUse(db: Db, kind: 'model' | 'dataset', id: string): Promise<void> {
  const uses = kind === 'model' ? [{ modelId: id }, { teacherModelId: id }] : [{ datasetId: id }];
  const jobs = await db.job.findMany({ where: { status: { in: ACTIVE }, OR: uses }, select: { id: true }, take: 10 });
  if (jobs.length > 0) {
    const jobIds = jobs.map((j) => j.id);
    throw new AppError(
      'IN_USE',
      `${kind} ${id} is an input of ${jobIds.length === 10 ? 'at least 10' : jobIds.length} queued or running job(s): ${jobIds.join(', ')}`,
      {
        resource: kind,
        id,
        jobIds,
      },
    );
  }
}
