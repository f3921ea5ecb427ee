// Models: the list (tick 2-4 to compare them side by side), and the upload form (multipart POST /v1/models:
// model.json + its weight shards, or one .zip).
import { gql, upload } from '../api.js';
import { compareBar } from '../compare-select.js';
import { enumLabel, errorBox, fill, fmtBytes, fmtInt, fmtTime, h } from '../dom.js';

const LIST = `query Models { models(first: 100) { items { id name format params sizeBytes inputShape outputShape createdAt
  producedBy { id type } parent { id name } } nextCursor } }`;

export async function modelsPage({ main, scope }) {
  const { models } = await gql(LIST);
  if (!scope.alive) return;
  const compare = compareBar({ kind: 'models', noun: 'model' });
  fill(
    main,
    h('h1', {}, 'Models'),
    uploadForm(),
    models.items.length > 1 ? compare.el : null,
    models.items.length
      ? h(
          'table',
          { 'aria-label': 'Models' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Compare')),
              ['Name', 'Parameters', 'Size', 'Input', 'Output', 'Origin', 'Created'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h(
            'tbody',
            {},
            models.items.map((m) =>
              h(
                'tr',
                {},
                h('td', {}, compare.checkbox(m.id, `model ${m.name}`)),
                h('td', {}, h('a', { href: `#/models/${m.id}` }, m.name)),
                h('td', { class: 'num' }, fmtInt(m.params)),
                h('td', { class: 'num' }, fmtBytes(m.sizeBytes)),
                h('td', { class: 'mono' }, `[${m.inputShape.join(', ')}]`),
                h('td', { class: 'mono' }, `[${m.outputShape.join(', ')}]`),
                h(
                  'td',
                  {},
                  m.producedBy
                    ? [
                        `${enumLabel(m.producedBy.type)} of `,
                        m.parent ? h('a', { href: `#/models/${m.parent.id}` }, m.parent.name) : 'a deleted model',
                      ]
                    : 'uploaded',
                ),
                h('td', {}, fmtTime(m.createdAt)),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No models yet: upload one above.'),
    models.nextCursor ? h('p', { class: 'muted' }, 'Showing the newest 100 models.') : null,
  );
}

function uploadForm() {
  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card upload', 'aria-labelledby': 'upload-model-h' },
    h('h2', { id: 'upload-model-h' }, 'Upload a model'),
    h('p', { class: 'muted' }, 'A TensorFlow.js Layers model: model.json and every weight file it names, or one .zip holding them.'),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'model-name' }, 'Name'),
      h('input', { id: 'model-name', name: 'name', type: 'text', placeholder: 'taken from the files when empty' }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'model-files' }, 'Model files'),
      h('input', { id: 'model-files', name: 'files', type: 'file', multiple: true, required: true }),
    ),
    h('button', { type: 'submit' }, 'Upload model'),
    status,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData();
    const name = form.elements.name.value.trim();
    if (name) data.append('name', name); // fields before files: the server reads the stream in order
    for (const f of form.elements.files.files) data.append('files', f, f.name);
    const button = form.querySelector('button');
    button.disabled = true;
    fill(status, h('p', { class: 'muted' }, 'Uploading…'));
    try {
      const model = await upload('/v1/models', data);
      location.hash = `#/models/${model.id}`;
    } catch (err) {
      fill(status, errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
