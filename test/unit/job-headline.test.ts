// A job's headline for tables (src/jobs/headline.ts): compression reports give accuracy after, split, change and the
// raw/gzip ratios; evaluate and train give their accuracy and split; reports without any give null.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobHeadline } from '../../src/jobs/headline.ts';

test('a compression report: accuracy after with its split, change in points, raw and gzip ratios', () => {
  const h = jobHeadline({
    before: { accuracy: 0.98, split: 'test', sizeBytes: 1000, gzipBytes: 900 },
    after: { accuracy: 0.975, split: 'test', sizeBytes: 250, gzipBytes: 100 },
    layers: [],
  });
  assert.equal(h!.accuracy, 0.975);
  assert.equal(h!.split, 'test');
  assert.ok(Math.abs(h!.accuracyChangePp! - -0.5) < 1e-9);
  assert.equal(h!.sizeRatio, 4);
  assert.equal(h!.gzipRatio, 9);
});

test('a dataset-less quantize: no accuracy, no split, the ratios still', () => {
  const h = jobHeadline({
    before: { accuracy: null, split: null, sizeBytes: 200, gzipBytes: 180 },
    after: { accuracy: null, split: null, sizeBytes: 100, gzipBytes: 90 },
  });
  assert.deepEqual(h, { accuracy: null, split: null, accuracyChangePp: null, sizeRatio: 2, gzipRatio: 2 });
});

test('evaluate and train reports: their accuracy and split; other shapes: null', () => {
  assert.deepEqual(jobHeadline({ accuracy: 0.9, split: 'train', loss: 0.3 }), {
    accuracy: 0.9,
    split: 'train',
    accuracyChangePp: null,
    sizeRatio: null,
    gzipRatio: null,
  });
  assert.equal(jobHeadline({ test: { accuracy: 0.95, loss: 0.2, examples: 10 } })!.split, 'test');
  assert.equal(jobHeadline({ test: null, params: 10 }), null);
  assert.equal(jobHeadline({ scan: { baseline: 0.9 } }), null);
  assert.equal(jobHeadline(null), null);
});
