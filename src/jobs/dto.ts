// Job row → the Job JSON of the API contract.
import type { Job as JobRow } from '../db/generated/client.ts';
import type { JobDto } from '../schemas/job.ts';

export type { JobRow };

export function toJobDto(r: JobRow): JobDto {
  return {
    id: r.id,
    projectId: r.projectId,
    type: r.type,
    status: r.status as JobDto['status'],
    priority: r.priority,
    params: (r.params ?? {}) as Record<string, unknown>,
    modelId: r.modelId,
    teacherModelId: r.teacherModelId,
    datasetId: r.datasetId,
    resultModelIds: r.resultModelIds,
    progress: { fraction: r.progressFraction, epoch: r.progressEpoch, step: r.progressStep, etaSeconds: r.etaSeconds },
    report: (r.report ?? null) as Record<string, unknown> | null,
    error: r.errorCode ? { code: r.errorCode, message: r.errorMessage ?? '' } : null,
    backend: r.backend,
    attempts: r.attempts,
    cancelRequested: r.cancelRequested,
    workerId: r.workerId,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}
