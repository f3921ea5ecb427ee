// Dataset page: examples, splits, example shape, classes, files, jobs that read it, and for image datasets a grid
// of the first training images, decoded from the canonical train-x.npy (only its first rows are downloaded).
import { fileUrl, gql } from '../api.js';
import { dl, enumLabel, errorBox, fill, fmtBytes, fmtInt, fmtTime, h, shortId, statusBadge } from '../dom.js';
import { fetchNpyRows, imageCanvas, isImageShape, labelsOf } from '../npy.js';

const DATASET = `query Dataset($id: ID!) { dataset(id: $id) { id name format examples featureShape dtype numClasses classNames
  trainExamples testExamples normalization sizeBytes createdAt files { path sizeBytes role }
  jobs(first: 20) { items { id type status createdAt } } } }`;
const SAMPLES = 48;

export async function datasetPage({ main, scope, params: [id] }) {
  const { dataset: d } = await gql(DATASET, { id });
  if (!scope.alive) return;
  const grid = h('div', { class: 'samples', role: 'list', 'aria-label': `First ${SAMPLES} training images` });
  const gridStatus = h('p', { class: 'muted', 'aria-live': 'polite' });
  const trainX = d.files.find((f) => f.role === 'train-x');
  const trainY = d.files.find((f) => f.role === 'train-y');
  const images = trainX && isImageShape(d.featureShape);

  fill(
    main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/datasets' }, 'Datasets'), ' / ', d.name),
    h('h1', {}, d.name),
    h(
      'div',
      { class: 'cols' },
      h(
        'section',
        { 'aria-labelledby': 'dsum-h' },
        h('h2', { id: 'dsum-h' }, 'Summary'),
        dl([
          ['Format', d.format],
          ['Examples', fmtInt(d.examples)],
          ['Training examples', fmtInt(d.trainExamples)],
          ['Test examples', fmtInt(d.testExamples)],
          ['Example shape', h('span', { class: 'mono' }, `[${d.featureShape.join(', ')}]`)],
          ['Stored as', d.dtype],
          ['Normalization', d.normalization ? h('span', { class: 'mono' }, JSON.stringify(d.normalization)) : 'none'],
          ['Size', fmtBytes(d.sizeBytes)],
          ['Created', fmtTime(d.createdAt)],
          ['ID', h('span', { class: 'mono' }, d.id)],
        ]),
      ),
      h(
        'section',
        { 'aria-labelledby': 'classes-h' },
        h('h2', { id: 'classes-h' }, `Classes (${d.numClasses})`),
        d.classNames.every((c, i) => c === String(i))
          ? h('p', {}, d.classNames.join(', '))
          : h(
              'ol',
              { class: 'classes', start: 0 },
              d.classNames.map((c) => h('li', {}, c)),
            ),
        h('h2', {}, 'Files'),
        h(
          'ul',
          { class: 'files' },
          d.files.map((f) =>
            h(
              'li',
              {},
              h('a', { href: fileUrl('datasets', d.id, f.path), download: f.path.split('/').pop() }, f.path),
              ` ${f.role ? `(${f.role}, ` : '('}${fmtBytes(f.sizeBytes)})`,
            ),
          ),
        ),
      ),
    ),
    images ? h('section', { 'aria-labelledby': 'samples-h' }, h('h2', { id: 'samples-h' }, 'Sample training images'), gridStatus, grid) : null,
    h(
      'section',
      { 'aria-labelledby': 'djobs-h' },
      h('h2', { id: 'djobs-h' }, 'Jobs with this dataset'),
      d.jobs.items.length
        ? h(
            'ul',
            {},
            d.jobs.items.map((j) =>
              h(
                'li',
                {},
                h('a', { href: `#/jobs/${j.id}` }, `${enumLabel(j.type)} ${shortId(j.id)}`),
                ' ',
                statusBadge(j.status),
                ` ${fmtTime(j.createdAt)}`,
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'None yet.'),
    ),
  );

  if (!images) return;
  gridStatus.textContent = 'Loading images…';
  try {
    const [x, y] = await Promise.all([
      fetchNpyRows(fileUrl('datasets', d.id, trainX.path), SAMPLES),
      trainY ? fetchNpyRows(fileUrl('datasets', d.id, trainY.path), SAMPLES).catch(() => null) : null,
    ]);
    if (!scope.alive) return;
    const labels = y ? labelsOf(y) : [];
    // Floats are either already 0..1 (scale to bytes) or 0..255.
    const max = x.data.reduce((m, v) => (v > m ? v : m), 0);
    const scale = x.descr.includes('f') && max <= 1 ? 255 : 1;
    fill(
      grid,
      Array.from({ length: x.rows }, (_, r) => {
        const label = labels[r] === undefined ? '' : (d.classNames[labels[r]] ?? String(labels[r]));
        const canvas = imageCanvas(x, r, scale);
        canvas.setAttribute('role', 'img');
        canvas.setAttribute('aria-label', `training example ${r}${label ? `, class ${label}` : ''}`);
        return h('figure', { class: 'sample', role: 'listitem' }, canvas, h('figcaption', {}, label || `#${r}`));
      }),
    );
    gridStatus.textContent = `The first ${x.rows} of ${fmtInt(x.shape[0])} training examples, with their labels.`;
  } catch (e) {
    fill(gridStatus, errorBox(e));
  }
}
