// Small, real TF.js artifacts for tests, produced by tfjs itself (no hand-written model.json).
import * as tf from '@tensorflow/tfjs';
import yazl from 'yazl';

export interface ModelFiles {
  modelJson: Buffer;
  shards: { name: string; data: Buffer }[];
}

/** A 784-16-10 MLP saved the way tfjs saves to files (model.json + one shard). */
export async function tinyModelFiles(units = 16): Promise<ModelFiles> {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [784], units, activation: 'relu' }), tf.layers.dense({ units: 10, activation: 'softmax' })],
  });
  let files: ModelFiles | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const shardName = 'group1-shard1of1.bin';
      const json = {
        format: 'layers-model',
        generatedBy: 'modelpress-tests',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [shardName], weights: artifacts.weightSpecs }],
      };
      files = { modelJson: Buffer.from(JSON.stringify(json)), shards: [{ name: shardName, data: Buffer.from(artifacts.weightData as ArrayBuffer) }] };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return files!;
}

export function zipBuffer(entries: { name: string; data: Buffer }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(e.data, e.name);
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

/** supertest parser that buffers a binary response body (`.buffer(true).parse(binaryParser)`). */
export function binaryParser(res: any, cb: (err: Error | null, body: Buffer) => void) {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
  res.on('error', (err: Error) => cb(err, Buffer.alloc(0)));
}
