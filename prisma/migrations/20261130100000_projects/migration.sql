-- Projects (tenancy, issue 18): every model, dataset and job belongs to one project; an API key belongs to one
-- project or, with a null projectId, to none (a global key: every project, as every key did before projects).
-- The 'default' project is created here, and everything that exists already goes to it, so embedded mode and
-- keyless callers keep working with no setup. Idempotency keys become unique per project.
CREATE TABLE "Project" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Project_pkey" PRIMARY KEY ("id")
);
INSERT INTO "Project" ("id", "name") VALUES ('default', 'default');

ALTER TABLE "Model" ADD COLUMN "projectId" TEXT NOT NULL DEFAULT 'default';
ALTER TABLE "Dataset" ADD COLUMN "projectId" TEXT NOT NULL DEFAULT 'default';
ALTER TABLE "Job" ADD COLUMN "projectId" TEXT NOT NULL DEFAULT 'default';
ALTER TABLE "ApiKey" ADD COLUMN "projectId" TEXT;

DROP INDEX "Job_idempotencyKey_key";
CREATE UNIQUE INDEX "Job_projectId_idempotencyKey_key" ON "Job"("projectId", "idempotencyKey");
CREATE INDEX "Model_projectId_createdAt_id_idx" ON "Model"("projectId", "createdAt" DESC, "id" DESC);
CREATE INDEX "Dataset_projectId_createdAt_id_idx" ON "Dataset"("projectId", "createdAt" DESC, "id" DESC);
CREATE INDEX "Job_projectId_createdAt_id_idx" ON "Job"("projectId", "createdAt" DESC, "id" DESC);

ALTER TABLE "Model" ADD CONSTRAINT "Model_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "Dataset" ADD CONSTRAINT "Dataset_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "Job" ADD CONSTRAINT "Job_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
-- Restrict, not SET NULL: removing a project must never turn its keys into global ones.
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
