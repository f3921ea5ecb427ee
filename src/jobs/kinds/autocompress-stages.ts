// The candidate generators of `autocompress`: one stage per method, each turning a base model (the best accepted
// candidate so far, as artifacts) into a new candidate at one level. Levels are ordered from mild to aggressive, so a
// stage can bisect them (src/jobs/kinds/autocompress.ts). Pure training/compression: saving and measuring are the
// kind's.
import {
  allocateSparsity,
  FakeQuantTrainer,
  GradualPruner,
  applyMasks,
  logitsModel,
  pruningPlan,
  protectedLayers,
  quantizeWeights,
  structuredPrune,
  type SensitivityScan,
} from '../../ml/compress/index.ts';
import { takeRows } from '../../ml/dataset.ts';
import { loadModelFromArtifacts, serializeModel } from '../../ml/model-io.ts';
import { tf } from '../../ml/tf.ts';
import type { JobContext } from '../kind.ts';
import type { AutocompressMethod, AutocompressParams } from './autocompress.params.ts';
import { clusterAndTune } from './cluster.ts';
import { narrowedStudent } from './distill.ts';
import {
  cachedDistillLoss,
  cachedDistillLossRef,
  distillTargets,
  teacherLogitsOf,
  type TeacherLossParams,
} from '../../ml/compress/distill/teacher-loss.ts';
import { DISTILL_DEFAULTS } from './distill.params.ts';
import { pruningSchedule } from './prune.ts';
import { scanModel } from './sensitivity.ts';
import { runTraining, type SplitTensors } from './support.ts';

/** What a candidate did, step by step from the original model. */
export interface StepDesc {
  method: AutocompressMethod;
  level: number | string;
}

export interface Produced {
  /** A live model (caller disposes) or artifacts (a quantized model). */
  model: tf.LayersModel | tf.io.ModelArtifacts;
  /** Extra facts for the candidate's report (allocation, clusters, …). */
  details?: Record<string, unknown>;
}

export interface StageEnv {
  ctx: JobContext;
  params: AutocompressParams;
  /** Tuning rows (the train split minus the validation hold-out). */
  tune: SplitTensors;
  /** The rows decisions are made on (the validation hold-out). */
  validation: SplitTensors;
  /** The original model (the distillation teacher). */
  original: tf.LayersModel;
  /** Progress range of the running trial. */
  range: [number, number];
}

export interface Stage {
  method: AutocompressMethod;
  /** Mild → aggressive. */
  levels: (number | string)[];
  /** true: bisect the levels for the most aggressive accepted one; false: try in order, stop at the first accepted. */
  bisect: boolean;
  run(env: StageEnv, base: tf.io.ModelArtifacts, level: number | string): Promise<Produced>;
  /** Frees what the stage kept between its levels (called once the search leaves the stage). */
  dispose?(): void;
}

const trainOpts = (p: AutocompressParams, epochs: number) => ({
  epochs,
  batchSize: p.batchSize,
  optimizer: 'adam' as const,
  learningRate: p.learningRate,
  validationSplit: 0,
  seed: p.seed,
});

/** Scan rows: enough to rank layers, few enough to stay cheap. */
const SCAN_ROWS = 2000;
const CALIBRATION_ROWS = 1024;

/**
 * Distillation from the original (dense) model's cached logits as the prune stage's fine-tuning loss, instead of the
 * hard labels: off by default. Measured on MNIST LeNet-5 (bench/autocompress-trials.ts, prune 0.96 → cluster 3 →
 * uint8, the same dense model, README issue 16): hard labels −0.31 pp on the test split, the distill job's defaults
 * (T=2, standardized logits, soft targets only) −0.67 pp.
 */
export const FINE_TUNE_DISTILL: TeacherLossParams | null = null;

/**
 * Whether the prune stage's fine-tuning anneals its learning rate (cosine over the epochs): off. On the same chain
 * as FINE_TUNE_DISTILL it lost −0.89 pp (hard labels) instead of −0.31: the sparsity ramp ends at two thirds of the
 * steps, where the cosine has already taken the rate to a quarter: probably why the last pruning steps barely recover.
 */
export const FINE_TUNE_COSINE = false;

/** The original model's distillation targets for the tuning rows, computed once and shared by a stage's levels. */
function teacherTargets() {
  let cached: { tune: SplitTensors; targets: tf.Tensor2D } | null = null;
  return {
    of(env: StageEnv): tf.Tensor2D {
      if (cached?.tune !== env.tune) {
        cached?.targets.dispose();
        cached = { tune: env.tune, targets: tf.tidy(() => distillTargets(env.tune.y, teacherLogitsOf(env.original, env.tune.x))) };
      }
      return cached.targets;
    },
    dispose() {
      cached?.targets.dispose();
      cached = null;
    },
  };
}

/**
 * Magnitude pruning with per-layer sparsities allocated from a sensitivity scan of the stage's base (scanned once).
 * The classifier and a small first layer stay dense (protectedLayers, as the prune job's default): they hold ~1% of
 * the weights, so pruning them saves almost nothing, and the scan's one-layer-at-a-time drops do not show what
 * they cost next to every other layer pruned (LeNet-300-100 at 0.95 over 3 epochs: the classifier pruned to 81%
 * lost 1.22 pp on the hold-out, kept dense 0.78 pp). The level is the sparsity of the other layers.
 */
export function pruneStage(opts: { blockSize?: number; distill?: TeacherLossParams | null; cosine?: boolean } = {}): Stage {
  const scans = new WeakMap<tf.io.ModelArtifacts, SensitivityScan>();
  const kd = opts.distill === undefined ? FINE_TUNE_DISTILL : opts.distill;
  const teacher = teacherTargets();
  return {
    method: 'prune',
    levels: [0.5, 0.7, 0.8, 0.9, 0.93, 0.95, 0.96, 0.97, 0.98],
    bisect: true,
    async run(env, base, level) {
      const model = await loadModelFromArtifacts(base);
      try {
        let scan = scans.get(base);
        if (!scan) {
          const rows = Int32Array.from({ length: Math.min(SCAN_ROWS, env.validation.n) }, (_, i) => i);
          const x = takeRows(env.validation.x, rows);
          const y = takeRows(env.validation.y, rows);
          try {
            scan = await scanModel(env.ctx, model, { x, y, labels: env.validation.labels.subarray(0, rows.length), n: rows.length }, {}, [
              env.range[0],
              env.range[0],
            ]);
          } finally {
            x.dispose();
            y.dispose();
          }
          scans.set(base, scan);
        }
        const excludeLayers = protectedLayers(model);
        const pruned = { ...scan, layers: scan.layers.filter((l) => !excludeLayers.includes(l.name)) };
        const allocation = allocateSparsity(pruned, Number(level), { maxSparsity: 0.98 });
        const byWeight = Object.fromEntries(pruned.layers.map((l) => [l.weight, allocation.sparsities[l.name]]));
        const calibration = takeRows(
          env.tune.x,
          Int32Array.from({ length: Math.min(CALIBRATION_ROWS, env.tune.n) }, (_, i) => i),
        );
        try {
          const plan = pruningPlan(model, {
            scope: 'global',
            score: 'activation',
            maxLayerSparsity: 0.98,
            excludeLayers,
            calibration,
            allocation: byWeight,
          });
          const blocked = { ...plan, blockSize: opts.blockSize ?? 1 };
          const totalSteps = Math.max(1, env.params.fineTuneEpochs * Math.ceil(env.tune.n / env.params.batchSize));
          const pruner = new GradualPruner(
            model,
            pruningSchedule({ sparsity: Number(level), schedule: { type: 'polynomial_decay' } }, totalSteps),
            blocked,
          );
          if (env.params.fineTuneEpochs > 0) {
            pruner.beforeBatch();
            const hooks = {
              progressRange: env.range,
              afterBatch: () => {
                pruner.afterBatch();
                pruner.beforeBatch();
              },
            };
            const train = { ...trainOpts(env.params, env.params.fineTuneEpochs), cosine: opts.cosine ?? FINE_TUNE_COSINE };
            if (kd) {
              // The view shares the model's variables (and so the pruner's masks): training it trains the model.
              await runTraining(
                env.ctx,
                logitsModel(model),
                { x: env.tune.x, y: teacher.of(env) },
                { ...train, lossFn: cachedDistillLoss(kd), replicaLoss: cachedDistillLossRef(kd) },
                hooks,
              );
            } else await runTraining(env.ctx, model, env.tune, train, hooks);
          }
          applyMasks(model, pruner.masksAt(Number(level), Number(level)));
        } finally {
          calibration.dispose();
        }
        return {
          model,
          details: {
            allocation: allocation.sparsities,
            protectedLayers: excludeLayers,
            tolerance: allocation.tolerance,
            scan,
            ...(kd ? { distill: kd } : {}),
          },
        };
      } catch (e) {
        model.dispose();
        throw e;
      }
    },
    dispose: () => teacher.dispose(),
  };
}

/** Whole units / filters removed (a physically smaller, faster model), then fine-tuning. */
function structuredStage(): Stage {
  return {
    method: 'structured',
    levels: [0.25, 0.5, 0.625, 0.75, 0.875],
    bisect: true,
    async run(env, base, level) {
      const model = await loadModelFromArtifacts(base);
      try {
        const { model: smaller, removed } = await structuredPrune(model, { fraction: Number(level), norm: 'l1' });
        try {
          if (env.params.fineTuneEpochs > 0)
            await runTraining(env.ctx, smaller, env.tune, trainOpts(env.params, env.params.fineTuneEpochs), { progressRange: env.range });
        } catch (e) {
          smaller.dispose();
          throw e;
        }
        return { model: smaller, details: { removed: Object.fromEntries(Object.entries(removed).map(([k, v]) => [k, v.length])) } };
      } finally {
        model.dispose();
      }
    },
  };
}

/**
 * Kernels holding less than this share of the clustered weights get SMALL_KERNEL_EXTRA_BITS more bits than the
 * level: they are a few percent of the artifact, and 3 bits on an 840-weight classifier cost more accuracy than the
 * bytes they save.
 */
const SMALL_KERNEL_SHARE = 0.1;
const SMALL_KERNEL_EXTRA_BITS = 2;

/** Bits of one kernel at cluster level `bits`: small kernels (SMALL_KERNEL_SHARE) get SMALL_KERNEL_EXTRA_BITS more, at most 8. */
export function kernelBits(bits: number, size: number, total: number): number {
  return size < SMALL_KERNEL_SHARE * total ? Math.min(8, bits + SMALL_KERNEL_EXTRA_BITS) : bits;
}

/** k-means weight sharing with 2^bits values per large kernel (small ones: kernelBits; zeros stay zero), centroid fine-tuning. */
export function clusterStage(): Stage {
  return {
    method: 'cluster',
    levels: [8, 6, 5, 4, 3, 2],
    bisect: true,
    async run(env, base, level) {
      const model = await loadModelFromArtifacts(base);
      try {
        const kernels = await clusterAndTune(
          env.ctx,
          model,
          env.tune,
          {
            clusters: 2 ** Number(level),
            clustersFor: (size, total) => 2 ** kernelBits(Number(level), size, total),
            fineTuneEpochs: env.params.clusterEpochs,
            batchSize: env.params.batchSize,
            learningRate: 1e-4,
            seed: env.params.seed,
          },
          env.range,
        );
        return { model, details: { bits: level, kernels } };
      } catch (e) {
        model.dispose();
        throw e;
      }
    },
  };
}

/** The symmetric grid of a quantize level 'uint8-<b>bit' (ZERO_CODE ± 2^(b−1) − 1 codes), undefined for the 256-code grid. */
export function halfLevelsOf(level: string): number | undefined {
  const m = /^uint8-(\d)bit$/.exec(level);
  return m ? 2 ** (Number(m[1]) - 1) - 1 : undefined;
}

/**
 * The quantize levels in the order tried (the first accepted wins): uint8 on the 31-code symmetric grid
 * (quantizeSymmetric, halfLevels 15), on the 63-code one, on the 256 codes, then QAT. After 3-bit clustering a
 * coarse grid barely moves a centroid, and one deflate Huffman table serves every tensor. MNIST LeNet-5 pruned 95% →
 * 3-bit clusters (bench/autocompress-trials.ts, README issue 16), uint8 → uint8-5bit: 36.2 → 39.8× and 36.9 → 40.4×
 * (two dense models) at +0.02 → −0.05 and −0.14 → −0.12 pp on the test split; pruned 96%: 40.7 → 44.9× at −0.15 →
 * −0.18 pp, 41.2 → 45.7× at −0.28 → −0.48 pp. uint8-6bit saves ~60% as much at ±0.04 pp; the 15-code grid
 * (uint8-4bit) lost 0.5-0.6 pp in two of three chains.
 */
export const QUANTIZE_LEVELS = ['uint8-5bit', 'uint8-6bit', 'uint8', 'uint8-qat'];

/**
 * uint8 weights in the stock manifest: post-training first, quantization-aware fine-tuning when that loses too much.
 * QUANTIZE_LEVELS lists them in the order tried (the first accepted one wins).
 */
export function quantizeStage(levels: string[] = QUANTIZE_LEVELS): Stage {
  return {
    method: 'quantize',
    levels,
    bisect: false,
    async run(env, base, level) {
      let artifacts = base;
      if (level === 'uint8-qat') {
        const model = await loadModelFromArtifacts(base);
        try {
          const trainer = new FakeQuantTrainer(model, 'tensor');
          trainer.quantize();
          await runTraining(
            env.ctx,
            model,
            env.tune,
            { ...trainOpts(env.params, 1), learningRate: 1e-4 },
            { progressRange: env.range, afterBatch: () => trainer.afterBatch() },
          );
          trainer.finish();
          artifacts = (await serializeModel(model)).artifacts;
        } finally {
          model.dispose();
        }
      }
      const halfLevels = halfLevelsOf(String(level));
      const q = quantizeWeights(artifacts.weightSpecs ?? [], artifacts.weightData ?? new ArrayBuffer(0), 'uint8', { halfLevels });
      return { model: { ...artifacts, weightSpecs: q.specs, weightData: q.data }, ...(halfLevels ? { details: { halfLevels } } : {}) };
    },
  };
}

/**
 * Knowledge distillation from the original model into its architecture narrowed by the level (width multiplier),
 * with the distill job's loss and defaults (DISTILL_DEFAULTS: T=2 on standardized logits, soft targets only) on the
 * teacher's logits computed once per tuning row (cachedDistillLoss), so a distill job and this stage never disagree.
 * The logits are computed once per stage and shared by its levels.
 */
function distillStage(): Stage {
  const teacher = teacherTargets();
  const kd = { temperature: DISTILL_DEFAULTS.temperature, alpha: DISTILL_DEFAULTS.alpha, standardize: DISTILL_DEFAULTS.standardizeLogits };
  return {
    method: 'distill',
    levels: [0.75, 0.5, 0.25],
    bisect: true,
    async run(env, _base, level) {
      const student = await narrowedStudent(env.original, Number(level));
      try {
        const epochs = Math.max(1, env.params.fineTuneEpochs);
        // The view shares the student's variables: training it trains the student.
        await runTraining(
          env.ctx,
          logitsModel(student),
          { x: env.tune.x, y: teacher.of(env) },
          { ...trainOpts(env.params, epochs), learningRate: 1e-3, lossFn: cachedDistillLoss(kd), replicaLoss: cachedDistillLossRef(kd) },
          { progressRange: env.range },
        );
        return {
          model: student,
          details: { widthMultiplier: level, temperature: kd.temperature, alpha: kd.alpha, standardizeLogits: kd.standardize, epochs },
        };
      } catch (e) {
        student.dispose();
        throw e;
      }
    },
    dispose: () => teacher.dispose(),
  };
}

const FACTORIES: Record<AutocompressMethod, () => Stage> = {
  prune: pruneStage,
  structured: structuredStage,
  cluster: clusterStage,
  quantize: quantizeStage,
  distill: distillStage,
};

export const stageFor = (method: AutocompressMethod): Stage => FACTORIES[method]();
