// Deployment latency: the model exported to ONNX (QDQ weights for a quantized model, as it would be deployed) and
// timed in ONNX Runtime at batch 1 and 256 — where a structured-pruned or quantized model shows its real speedup,
// which tfjs's own latency does not (it dequantizes and runs dense). One intra-op thread, like the tfjs figure.
import * as ort from 'onnxruntime-node';
import { isAppError } from '../../errors.ts';
import { getLatencyRuns, type LatencyStats } from '../../ml/evaluate.ts';
import { serializeModel } from '../../ml/model-io.ts';
import type { tf } from '../../ml/tf.ts';
import { exportOnnx } from './export.ts';
import { onnx, toNumber } from './proto.ts';

export interface OnnxLatency {
  batch1: LatencyStats;
  batch256: LatencyStats;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function time(session: ort.InferenceSession, perExample: number[], batch: number, warmups: number, runs: number): Promise<LatencyStats> {
  const per = perExample.reduce((a, b) => a * b, 1);
  const feed = { [session.inputNames[0]]: new ort.Tensor('float32', new Float32Array(batch * per).fill(0.5), [batch, ...perExample]) };
  const times: number[] = [];
  for (let i = 0; i < warmups + runs; i++) {
    const t0 = performance.now();
    await session.run(feed);
    if (i >= warmups) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

/**
 * p50/p95 milliseconds of one ONNX Runtime run at batch 1 and 256; null when the model has layers ONNX export does
 * not cover (UNSUPPORTED_OPERATOR) — the report then says so by the null rather than failing the job.
 */
export async function onnxRuntimeLatency(
  source: tf.LayersModel | tf.io.ModelArtifacts,
  runs = Math.min(10, getLatencyRuns()),
  warmups = Math.min(2, runs),
): Promise<OnnxLatency | null> {
  const artifacts = 'predict' in source ? (await serializeModel(source)).artifacts : source;
  let bytes: Buffer;
  try {
    bytes = (await exportOnnx(artifacts, { quantized: 'qdq', inputLayout: 'NHWC', baseName: 'model' })).data;
  } catch (err) {
    if (isAppError(err) && err.code === 'UNSUPPORTED_OPERATOR') return null;
    throw err;
  }
  const input = onnx.ModelProto.decode(bytes).graph?.input?.[0];
  const perExample = (input?.type?.tensorType?.shape?.dim ?? []).slice(1).map((d) => toNumber(d.dimValue));
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    return { batch1: await time(session, perExample, 1, warmups, runs), batch256: await time(session, perExample, 256, warmups, runs) };
  } finally {
    await session.release();
  }
}
