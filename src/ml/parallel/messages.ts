// Messages between a data-parallel leader and its replica threads (postMessage; the per-step traffic goes
// through the session's SharedArrayBuffer instead, see shared-state.ts).
import type { LossFactoryRef } from '../loss.ts';
import type { tf } from '../tf.ts';
import type { PhaseTotals } from './phase-profile.ts';
import type { SessionShape } from './shared-state.ts';

/** Leader → replica: join a training session in `slot`. */
export interface SessionMessage {
  type: 'session';
  /** Unique per session in the leader's thread: replies carry it (a pooled replica may still finish an old one). */
  session: number;
  buffer: SharedArrayBuffer;
  /** The shared WebAssembly.Memory behind `buffer`, when it is one (null: a plain SharedArrayBuffer). */
  memory: WebAssembly.Memory | null;
  shape: SessionShape;
  slot: number;
  /** The model to replicate (weights arrive through shared memory before every step). */
  topology: tf.io.ModelJSON['modelTopology'];
  /** Shapes of model.weights, to check the replica's copy lines up with the leader's. */
  weightShapes: number[][];
  /** Indices into model.weights of the trainable weights, in model.trainableWeights order. */
  trainable: number[];
  /** Per-example shape of x (the batch axis excluded). */
  xShape: number[];
  /** How to build the loss; null: cross-entropy against the model's head. */
  loss: LossFactoryRef | null;
  /** The leader steps with the compiled program (src/ml/train-program.ts): the replica compiles it too. */
  program: boolean;
  /** Modules to import before the model is built (custom layers, initializers…). */
  modules: string[];
}

/** Replica → leader. */
export type ReplicaMessage =
  | { type: 'started' }
  | { type: 'ready'; session: number }
  | { type: 'error'; session: number; message: string }
  | { type: 'ended'; session: number; profile?: PhaseTotals };
