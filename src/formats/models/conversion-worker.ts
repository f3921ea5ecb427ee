// Entry of the conversion worker thread: imports and exports run here, off the API's event loop (a big HDF5 or
// ONNX file parses and converts for seconds). Requests come from converter.ts; errors travel back as plain
// {code, message, details} and become AppErrors again there.
import { parentPort } from 'node:worker_threads';
import { isAppError } from '../../errors.ts';
import { formatByName } from './registry.ts';
import type { ExportOptions, ImportContext, LocalFile } from './types.ts';
import type { tf } from '../../ml/tf.ts';

export type ConversionRequest =
  | { id: number; op: 'import'; format: string; files: LocalFile[]; ctx: ImportContext }
  | { id: number; op: 'export'; format: string; artifacts: tf.io.ModelArtifacts; opts: ExportOptions };

export type ConversionReply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { code: string; message: string; details?: unknown } };

async function handle(req: ConversionRequest): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  const format = formatByName(req.format);
  if (req.op === 'import') {
    if (!format.import) throw new Error(`${req.format} has no importer`);
    const result = await format.import(req.files, req.ctx);
    return { result, transfer: [result.artifacts.weightData] };
  }
  if (!format.export) throw new Error(`${req.format} has no exporter`);
  const result = await format.export(req.artifacts, req.opts);
  return { result, transfer: [] };
}

parentPort?.on('message', (req: ConversionRequest) => {
  handle(req).then(
    ({ result, transfer }) => parentPort?.postMessage({ id: req.id, ok: true, result } satisfies ConversionReply, transfer),
    (err: unknown) => {
      const error = isAppError(err)
        ? { code: err.code, message: err.message, details: err.details }
        : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
      parentPort?.postMessage({ id: req.id, ok: false, error } satisfies ConversionReply);
    },
  );
});
