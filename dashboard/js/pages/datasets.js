// Datasets: the list, and the upload form (multipart POST /v1/datasets).
import { gql, upload } from '../api.js';
import { errorBox, fill, fmtBytes, fmtInt, fmtTime, h } from '../dom.js';

const LIST = `query Datasets { datasets(first: 100) { items { id name format examples featureShape numClasses sizeBytes createdAt } nextCursor } }`;
const FORMATS = ['csv', 'npy', 'npz', 'idx', 'images'];

export async function datasetsPage({ main, scope }) {
  const { datasets } = await gql(LIST);
  if (!scope.alive) return;
  fill(
    main,
    h('h1', {}, 'Datasets'),
    uploadForm(),
    datasets.items.length
      ? h(
          'table',
          { 'aria-label': 'Datasets' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Name', 'Format', 'Examples', 'Example shape', 'Classes', 'Size', 'Created'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h(
            'tbody',
            {},
            datasets.items.map((d) =>
              h(
                'tr',
                {},
                h('td', {}, h('a', { href: `#/datasets/${d.id}` }, d.name)),
                h('td', {}, d.format),
                h('td', { class: 'num' }, fmtInt(d.examples)),
                h('td', { class: 'mono' }, `[${d.featureShape.join(', ')}]`),
                h('td', { class: 'num' }, String(d.numClasses)),
                h('td', { class: 'num' }, fmtBytes(d.sizeBytes)),
                h('td', {}, fmtTime(d.createdAt)),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No datasets yet: upload one above.'),
    datasets.nextCursor ? h('p', { class: 'muted' }, 'Showing the newest 100 datasets.') : null,
  );
}

function uploadForm() {
  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card upload', 'aria-labelledby': 'upload-dataset-h' },
    h('h2', { id: 'upload-dataset-h' }, 'Upload a dataset'),
    h(
      'p',
      { class: 'muted' },
      'CSV with a label column; NumPy x.npy + y.npy (or x_train/y_train/x_test/y_test); one .npz; MNIST-style IDX files; or a .zip of images in one folder per class.',
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'dataset-name' }, 'Name'),
      h('input', { id: 'dataset-name', name: 'name', type: 'text', placeholder: 'taken from the files when empty' }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'dataset-format' }, 'Format'),
      h(
        'select',
        { id: 'dataset-format', name: 'format' },
        h('option', { value: '' }, 'detect from file names'),
        FORMATS.map((f) => h('option', { value: f }, f)),
      ),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'dataset-label-column' }, 'CSV label column'),
      h('input', { id: 'dataset-label-column', name: 'labelColumn', type: 'text', placeholder: 'label' }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'dataset-files' }, 'Dataset files'),
      h('input', { id: 'dataset-files', name: 'files', type: 'file', multiple: true, required: true }),
    ),
    h('button', { type: 'submit' }, 'Upload dataset'),
    status,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData();
    for (const key of ['name', 'format', 'labelColumn']) {
      const value = form.elements[key].value.trim();
      if (value) data.append(key, value); // fields before files: the server reads the stream in order
    }
    for (const f of form.elements.files.files) data.append('files', f, f.name);
    const button = form.querySelector('button');
    button.disabled = true;
    fill(status, h('p', { class: 'muted' }, 'Uploading and parsing…'));
    try {
      const dataset = await upload('/v1/datasets', data);
      location.hash = `#/datasets/${dataset.id}`;
    } catch (err) {
      fill(status, errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
