// Example values for the OpenAPI document (request and response examples). They are validated against their
// schemas by the OpenAPI linters (no-invalid-media-type-examples) and by test/integration/openapi.test.ts.
const CREATED = '2026-11-30T02:00:00.000Z';
const SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export const MODEL_ID = '5f0c2a7e-8b1d-4c3e-9a2f-6d7e8f9a0b1c';
export const DATASET_ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
export const JOB_ID = '9b2f6c1e-3d4a-4f5b-8c7d-1e2f3a4b5c6d';

export const modelExample = {
  id: MODEL_ID,
  projectId: 'default',
  name: 'mnist-mlp',
  format: 'tfjs-layers',
  params: 101770,
  flops: 101632,
  sizeBytes: 409412,
  inputShape: [null, 784],
  outputShape: [null, 10],
  layers: [
    { name: 'dense_1', className: 'Dense', params: 100480, flops: 100352, outputShape: [null, 128] },
    { name: 'dense_2', className: 'Dense', params: 1290, flops: 1280, outputShape: [null, 10] },
  ],
  files: [
    { path: 'model.json', sizeBytes: 2332, sha256: SHA },
    { path: 'group1-shard1of1.bin', sizeBytes: 407080, sha256: SHA },
  ],
  producedByJobId: null,
  parentModelId: null,
  report: null,
  sourceFormat: 'tfjs-layers',
  sourceVersion: null,
  sourceLayout: null,
  preprocessing: null,
  sourceInputShape: null,
  importNotes: [],
  createdAt: CREATED,
};

export const datasetExample = {
  id: DATASET_ID,
  projectId: 'default',
  name: 'iris',
  format: 'csv',
  examples: 150,
  featureShape: [4],
  dtype: 'float32',
  numClasses: 3,
  classNames: ['setosa', 'versicolor', 'virginica'],
  splits: { train: 150 },
  normalization: null,
  sizeBytes: 4551,
  sha256: SHA,
  files: [{ path: 'iris.csv', sizeBytes: 4551, sha256: SHA, role: 'data' }],
  createdAt: CREATED,
};

export const jobExample = {
  id: JOB_ID,
  projectId: 'default',
  type: 'prune',
  status: 'succeeded',
  priority: 0,
  params: { sparsity: 0.5 },
  modelId: MODEL_ID,
  teacherModelId: null,
  datasetId: DATASET_ID,
  resultModelIds: ['7c6b5a4f-3e2d-4c1b-9a08-f7e6d5c4b3a2'],
  progress: { fraction: 1, epoch: 1, step: 40, etaSeconds: 0 },
  report: { sparsity: 0.5 },
  error: null,
  backend: 'wasm',
  attempts: 1,
  cancelRequested: false,
  workerId: 'worker-1',
  createdAt: CREATED,
  startedAt: '2026-11-30T02:00:01.000Z',
  finishedAt: '2026-11-30T02:00:09.000Z',
};

export const createJobExample = { type: 'prune', modelId: MODEL_ID, datasetId: DATASET_ID, params: { sparsity: 0.5 } };

export const pageOf = <T>(item: T) => ({ items: [item], nextCursor: null });
