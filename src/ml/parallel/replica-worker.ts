// A data-parallel replica thread: its own tfjs with the wasm backend, a copy of the session's model, and a loop
// that blocks on the session's shared memory. Per step: take the leader's weights, build its slice of the batch,
// compute the slice's mean gradient into its slot, meet the others at the barrier, then do its part of the
// all-reduce (and, with shared Adam, of the optimizer step on that part of the weights), count itself done and wait
// for the next command. Started by pool.ts; one session at a time.
import { parentPort } from 'node:worker_threads';
import { initBackend } from '../backend.ts';
import '../layers/index.ts'; // the layer classes tfjs lacks (Subtract, SpatialDropout2D): models that use them build here too
import { buildLoss, defaultLoss, type LossFn } from '../loss.ts';
import { tf } from '../tf.ts';
import { compileTrainProgram } from '../train-program.ts';
import { flatOffsets, sliceIntoBuffer } from '../train-step.ts';
import type { ReplicaMessage, SessionMessage } from './messages.ts';
import { PhaseProfile, PROFILE } from './phase-profile.ts';
import { Abort, Command, SessionAborted, SharedState, STAT } from './shared-state.ts';
import { inPlaceWeightsSafe, loadVariable } from './weight-load.ts';

const port = parentPort!;
const post = (m: ReplicaMessage) => port.postMessage(m);
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

await initBackend('wasm');
port.on('message', (m: SessionMessage) => {
  if (m.type === 'session') void runSession(m);
});
post({ type: 'started' });

async function prepare(m: SessionMessage): Promise<{ model: tf.LayersModel; lossFn: LossFn }> {
  for (const mod of m.modules) await import(mod);
  const model = await tf.models.modelFromJSON({ modelTopology: m.topology });
  const shapes = model.weights.map((w) => w.shape as number[]);
  const same = shapes.length === m.weightShapes.length && shapes.every((s, i) => s.join() === m.weightShapes[i].join());
  if (!same) {
    model.dispose();
    throw new Error(`replica's model weights [${shapes.map((s) => `[${s}]`).join()}] differ from the leader's`);
  }
  return { model, lossFn: m.loss ? await buildLoss(m.loss) : defaultLoss(model) };
}

async function runSession(m: SessionMessage): Promise<void> {
  const state = new SharedState(m.buffer, m.shape, m.memory);
  const { slot, session } = m;
  let prepared: { model: tf.LayersModel; lossFn: LossFn };
  try {
    prepared = await prepare(m);
  } catch (e) {
    post({ type: 'error', session, message: e instanceof Error ? e.message : String(e) });
    post({ type: 'ended', session });
    return;
  }
  const { model, lossFn } = prepared;
  const weights = model.weights.map((w) => w.read() as tf.Variable);
  const vars = m.trainable.map((i) => weights[i]);
  // tf.variableGrads skips variables not flagged trainable: these are the leader's trainable weights.
  for (const v of vars) v.trainable = true;
  const weightOffsets = flatOffsets(weights.map((w) => w.size));
  const gradOffsets = flatOffsets(vars.map((v) => v.size));
  const layout = { trainable: m.trainable, weightOffsets, gradOffsets };
  // The compiled step for the default loss, as the leader decides it (same model, same labels).
  // (Were it to fail here, autodiff gives the same gradients within float32 rounding.)
  const program = m.program ? compileTrainProgram(model, vars, state.shape.yRow) : null;
  const slice = { model, vars, lossFn, program };
  const inPlace = inPlaceWeightsSafe(program);
  const xRow = size(m.xShape);
  const yRow = state.shape.yRow;
  // Captured before the end check: an end issued after this point changes the sequence and wakes the wait.
  let seen = state.sequence();
  const profile = new PhaseProfile();
  /** The WEIGHTS_VERSION of the weights in this thread's variables (-1: none loaded yet). */
  let loadedVersion = -1;
  const loadWeights = () => {
    // Read before the weights: a publish the leader makes meanwhile bumps it after writing, so it shows next step.
    loadedVersion = state.weightsVersion();
    for (let i = 0; i < weights.length; i++) loadVariable(weights[i], state.weights.subarray(weightOffsets[i], weightOffsets[i + 1]), inPlace);
  };
  post({ type: 'ready', session });
  try {
    for (;;) {
      if (state.aborted() || state.command() === Command.end) break;
      profile.start();
      seen = state.waitCommand(seen);
      profile.mark('wait command');
      if (state.aborted() || state.command() === Command.end) break;
      const rank = state.rank(slot);
      if (rank < 0) {
        loadedVersion = -1; // the shared Adam steps it sits out change the weights without a new version
        continue;
      }
      const rows = state.rows(slot);
      const doneTarget = state.doneTarget();
      if (loadedVersion !== state.weightsVersion()) loadWeights();
      profile.mark('load weights');
      const x = tf.tensor(state.inputsX[slot].subarray(0, rows * xRow), [rows, ...m.xShape], 'float32');
      const y = tf.tensor2d(state.inputsY[slot].subarray(0, rows * yRow), [rows, yRow], 'float32');
      profile.mark('take rows');
      try {
        const { loss, correct } = sliceIntoBuffer(slice, x, y, state.grads[slot], gradOffsets);
        state.setStat(slot, STAT.loss, loss);
        state.setStat(slot, STAT.correct, correct);
      } finally {
        tf.dispose([x, y]);
      }
      profile.mark('forward+backward+gradients');
      const waitedMs = state.barrier();
      profile.mark('barrier');
      state.reduceAndUpdate(rank, state.participants(), layout);
      // Read by the leader (slice sizes) once this replica counts itself done.
      state.setStat(slot, STAT.barrierWaitMs, waitedMs);
      state.markDone();
      profile.mark(state.shape.sharedAdam ? 'reduce+adam' : 'reduce');
      if (state.shape.sharedAdam) {
        // The next step's weights once the others' chunks are updated too, while the leader is between steps.
        state.waitStepDone(doneTarget);
        profile.mark('wait done');
        if (state.aborted()) break;
        loadWeights();
        profile.mark('preload weights');
      }
    }
  } catch (e) {
    if (!(e instanceof SessionAborted)) {
      post({ type: 'error', session, message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      state.abort(Abort.replica);
    }
  } finally {
    program?.dispose();
    model.dispose();
    post({ type: 'ended', session, profile: PROFILE ? profile.totals : undefined });
  }
}
