// NaN and ±Inf are refused in uploaded weights (a model with them trains and evaluates to garbage). The shards of
// each manifest group are streamed in order once, and every float32 / float16 value (not quantized ones: integers
// cannot be NaN) is checked where its weight spec places it; chunked, so a big model never blocks the event loop
// for more than one chunk.
import path from 'node:path/posix';
import { AppError } from '../../errors.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { weightBytes, type LayersModelJson } from './manifest.ts';

interface Span {
  name: string;
  start: number;
  end: number;
  /** bytes per checked value; 0 = not checked */
  width: 0 | 2 | 4;
}

function spansOf(weights: LayersModelJson['weightsManifest'][number]['weights']): Span[] {
  let at = 0;
  return weights.map((w) => {
    const bytes = weightBytes(w);
    const dtype = w.quantization?.dtype ?? w.dtype;
    const span: Span = { name: w.name, start: at, end: at + bytes, width: dtype === 'float32' ? 4 : dtype === 'float16' ? 2 : 0 };
    at += bytes;
    return span;
  });
}

const nonFinite = (name: string) => new AppError('INVALID_MODEL', `weight ${name} holds NaN or Infinity`, { weight: name });

export async function checkFiniteWeights(
  model: LayersModelJson,
  modelJsonPath: string,
  files: { path: string; objectKey: string }[],
  store: ObjectStore,
): Promise<void> {
  const dir = path.dirname(modelJsonPath);
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const group of model.weightsManifest) {
    const spans = spansOf(group.weights).filter((s) => s.width > 0 && s.end > s.start);
    if (!spans.length) continue;
    let pos = 0; // group offset of carry[0]
    let carry: Buffer = Buffer.alloc(0);
    let si = 0;
    for (const p of group.paths) {
      const f = byPath.get(path.normalize(dir === '.' ? p : path.join(dir, p)));
      if (!f) continue; // reported by checkWeightFiles
      for await (const chunk of await store.get(f.objectKey)) {
        const buf = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
        const bufEnd = pos + buf.length;
        let consumed = 0; // bytes of buf fully checked or skipped
        while (si < spans.length) {
          const s = spans[si];
          const from = Math.max(s.start, pos + consumed);
          if (from >= bufEnd) {
            consumed = buf.length; // nothing to check in the rest of this chunk
            break;
          }
          const whole = Math.floor((Math.min(s.end, bufEnd) - from) / s.width);
          const view = new DataView(buf.buffer, buf.byteOffset + (from - pos), whole * s.width);
          for (let i = 0; i < whole; i++) {
            if (s.width === 4 ? !Number.isFinite(view.getFloat32(i * 4, true)) : (view.getUint16(i * 2, true) & 0x7c00) === 0x7c00)
              throw nonFinite(s.name);
          }
          consumed = from - pos + whole * s.width;
          if (consumed + pos >= s.end) si++;
          else break; // a value split across chunks: keep its bytes
        }
        if (si >= spans.length) break;
        carry = buf.subarray(Math.min(consumed, buf.length));
        pos += Math.min(consumed, buf.length);
      }
      if (si >= spans.length) break;
    }
  }
}
