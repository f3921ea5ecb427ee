// ONNX (.onnx, opset 7-21), optionally with external data files (model.onnx + model.onnx.data). Recognised by the
// shape of a serialised ModelProto's first bytes (a protobuf has no magic number); the importer's parse decides.
// Exported as opset 13 (src/formats/onnx/export.ts).
import { exportOnnx } from '../onnx/export.ts';
import { importOnnx } from '../onnx/import.ts';
import { isHdf5, isZip, looksLikeOnnx } from './signatures.ts';
import type { ModelFormat } from './types.ts';

export const onnxFormat = {
  name: 'onnx',
  exportName: 'onnx',
  title: 'ONNX (.onnx, opset 7-21, external data files alongside)',
  extension: '.onnx',
  mediaType: 'application/octet-stream',
  detect(files) {
    const models = files.filter((f) => looksLikeOnnx(f.head) || (f.path.toLowerCase().endsWith('.onnx') && !isHdf5(f.head) && !isZip(f.head)));
    if (models.length !== 1) return null;
    // Every other file may hold external tensor data; the importer reads the ones the graph names.
    return [models[0], ...files.filter((f) => f !== models[0])];
  },
  import: (files) => importOnnx(files),
  export: (artifacts, opts) => exportOnnx(artifacts, opts),
} as const satisfies ModelFormat<'onnx', 'onnx'>;
