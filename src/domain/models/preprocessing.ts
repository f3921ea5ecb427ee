// What a model expects as input, as far as its file says: a leading Rescaling layer (Keras `Rescaling(1/255)`, or
// an ONNX graph's in-graph (x − 127.5) / 127.5 converted to one) means the model takes raw 0-255 values; an ONNX
// graph with NCHW image input records that layout. Anything else is left to the client's declaration.
import type { Preprocessing, PreprocessingInput } from '../../schemas/preprocessing.ts';
import type { ModelSource } from './import.ts';

type Layer = { className: string };

export function detectPreprocessing(source: ModelSource, layers: readonly Layer[]): Preprocessing | null {
  const first = layers.find((l) => l.className !== 'InputLayer');
  const raw = first?.className === 'Rescaling';
  const layout = source.layout === 'NCHW' ? 'NCHW' : null;
  if (!raw && !layout) return null;
  return { ...(raw ? { scale: 1, offset: 0 } : {}), ...(layout ? { layout } : {}), origin: 'detected' };
}

/** A client's declaration as stored. */
export const declared = (p: PreprocessingInput): Preprocessing => ({ ...p, origin: 'declared' });
