// What a model costs a job, from shapes alone: its parameter count and the activation floats one example produces
// (the sum of every layer's output size: training keeps them all for the backward pass). Built from a stored layer
// summary (uploaded and job-produced models) or from an architecture (preset or layer spec) built with shape-only
// weights, so a spec of two Dense 40000 layers is measured in milliseconds without allocating its 6.4 GB.
import { buildModel, type Architecture } from './architectures.ts';
import { withShapeOnlyWeights } from './shape-only.ts';

export interface ModelProfile {
  params: number;
  /** Floats of all layer outputs for one example. */
  activationsPerExample: number;
}

type Shape = (number | null)[];

/** Elements of one example of `shape` (the batch axis and unknown dimensions excluded). */
function exampleSize(shape: unknown): number {
  if (!Array.isArray(shape)) return 0;
  if (shape.length > 0 && shape.every((s) => Array.isArray(s))) return (shape as Shape[]).reduce((sum, s) => sum + exampleSize(s), 0);
  return (shape as Shape).slice(1).reduce<number>((n, d) => n * (typeof d === 'number' && d > 0 ? d : 1), 1);
}

/** From a stored layer summary (ModelDto.layers). */
export function profileOfLayers(layers: readonly { params?: number; outputShape?: unknown }[], params?: number): ModelProfile {
  return {
    params: params ?? layers.reduce((n, l) => n + (l.params ?? 0), 0),
    activationsPerExample: layers.reduce((n, l) => n + exampleSize(l.outputShape), 0),
  };
}

/** The model a job would build from `spec` for examples of `inputShape`, measured without weights. */
export function profileArchitecture(spec: Architecture, inputShape: number[], numClasses: number): ModelProfile {
  // A text preset without vocabSize sizes its embedding from the data at run time: profiled with the smallest one.
  const model = withShapeOnlyWeights(() => buildModel(spec, inputShape, numClasses, { vocabSize: 2 }));
  try {
    return profileOfLayers(
      model.layers.map((l) => ({ params: l.countParams(), outputShape: l.outputShape })),
      model.countParams(),
    );
  } finally {
    model.dispose();
  }
}
