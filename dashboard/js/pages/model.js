// Model page: summary (layers, parameters, size), lineage (the job that produced it and from which model, with
// the ancestors), download links, its compression report, the jobs that used it, and the "compress this model"
// form (prune / distill / quantize / pipeline) that creates a job with the createJob mutation.
import { fileUrl, gql } from '../api.js';
import { dl, enumLabel, errorBox, fill, fmtBytes, fmtInt, fmtTime, h, shortId, statusBadge } from '../dom.js';
import { reportView } from '../report.js';

const MODEL = `query Model($id: ID!) {
  model(id: $id) { id name format params sizeBytes inputShape outputShape createdAt archiveUrl
    layers { name className params outputShape } files { path sizeBytes }
    parent { id name } producedBy { id type status createdAt model { id name } dataset { id name } }
    ancestors(max: 10) { id name producedBy { id type } }
    report { raw }
    jobs(first: 20) { items { id type status createdAt } } }
  datasets(first: 100) { items { id name featureShape numClasses examples } }
}`;

const shape = (s) =>
  h(
    'span',
    { class: 'mono' },
    s
      ? `[${[]
          .concat(s)
          .map((d) => d ?? 'batch')
          .join(', ')}]`
      : '—',
  );
const modelLink = (m) => h('a', { href: `#/models/${m.id}` }, m.name);

export async function modelPage({ main, scope, params: [id] }) {
  const { model, datasets } = await gql(MODEL, { id });
  if (!scope.alive) return;

  const origin = model.producedBy
    ? h(
        'p',
        {},
        'Made by ',
        h('a', { href: `#/jobs/${model.producedBy.id}` }, `${enumLabel(model.producedBy.type)} job ${shortId(model.producedBy.id)}`),
        model.parent ? [' from ', modelLink(model.parent)] : null,
        model.producedBy.dataset ? [' on ', h('a', { href: `#/datasets/${model.producedBy.dataset.id}` }, model.producedBy.dataset.name)] : null,
        '.',
      )
    : h('p', {}, 'Uploaded', model.parent ? [', derived from ', modelLink(model.parent)] : null, '.');
  const chain = model.ancestors.length
    ? h(
        'ol',
        { class: 'lineage', 'aria-label': 'Ancestors, nearest first' },
        h('li', {}, h('strong', {}, model.name), ' (this model)'),
        model.ancestors.map((a) => h('li', {}, modelLink(a), a.producedBy ? ` — ${enumLabel(a.producedBy.type)} result` : ' — uploaded')),
      )
    : null;

  fill(
    main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/models' }, 'Models'), ' / ', model.name),
    h('h1', {}, model.name),
    h(
      'div',
      { class: 'cols' },
      h(
        'section',
        { 'aria-labelledby': 'summary-h' },
        h('h2', { id: 'summary-h' }, 'Summary'),
        dl([
          ['Format', model.format],
          ['Parameters', fmtInt(model.params)],
          ['Size', fmtBytes(model.sizeBytes)],
          ['Layers', String(model.layers.length)],
          ['Input shape', shape(model.inputShape)],
          ['Output shape', shape(model.outputShape)],
          ['Created', fmtTime(model.createdAt)],
          ['ID', h('span', { class: 'mono' }, model.id)],
        ]),
      ),
      h(
        'section',
        { 'aria-labelledby': 'lineage-h' },
        h('h2', { id: 'lineage-h' }, 'Lineage'),
        origin,
        chain,
        h('h2', {}, 'Downloads'),
        h(
          'ul',
          { class: 'files' },
          model.files.map((f) =>
            h(
              'li',
              {},
              h('a', { href: fileUrl('models', model.id, f.path), download: f.path.split('/').pop() }, f.path),
              ` (${fmtBytes(f.sizeBytes)})`,
            ),
          ),
          h('li', {}, h('a', { href: model.archiveUrl }, 'All files as a .zip')),
        ),
      ),
    ),
    compressForm(model, datasets.items),
    model.report
      ? h('section', { 'aria-labelledby': 'mreport-h' }, h('h2', { id: 'mreport-h' }, 'Compression report'), reportView(model.report.raw))
      : null,
    h(
      'section',
      { 'aria-labelledby': 'layers-h' },
      h('h2', { id: 'layers-h' }, 'Layers'),
      h(
        'table',
        { 'aria-label': 'Layers' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Name', 'Class', 'Output shape', 'Parameters'].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h(
          'tbody',
          {},
          model.layers.map((l) =>
            h(
              'tr',
              {},
              h('td', {}, l.name),
              h('td', {}, l.className),
              h('td', {}, shape(l.outputShape)),
              h('td', { class: 'num' }, fmtInt(l.params)),
            ),
          ),
        ),
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'mjobs-h' },
      h('h2', { id: 'mjobs-h' }, 'Jobs with this model'),
      model.jobs.items.length
        ? h(
            'ul',
            {},
            model.jobs.items.map((j) =>
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
    deleteButton(model),
  );
}

// ---- the compress form ---------------------------------------------------------------------------------------

const KINDS = {
  prune: 'Prune: zero the smallest weights (or remove whole units), then fine-tune',
  distill: "Distill: train a narrower student on this model's soft targets",
  quantize: 'Quantize: store weights as 8/16-bit numbers (no training)',
  pipeline: 'Pipeline: prune, then quantize',
};

const num = (id, label, value, { optional = false, ...attrs } = {}) =>
  h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, name: id, type: 'number', value, step: 'any', required: !optional, ...attrs }),
  );
const choice = (id, label, options, value) =>
  h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h(
      'select',
      { id, name: id },
      options.map((o) => h('option', { value: o, selected: o === value }, o)),
    ),
  );

function compressForm(model, datasets) {
  // Image models take [h, w, c] inputs, MLPs flat vectors: offer the datasets whose examples fit the input.
  const inputSize = model.inputShape.filter((d) => d !== null).reduce((a, b) => a * b, 1);
  const fits = (d) => d.featureShape.reduce((a, b) => a * b, 1) === inputSize;
  const usable = [...datasets.filter(fits), ...datasets.filter((d) => !fits(d))];
  const datasetSelect = h(
    'select',
    { id: 'compress-dataset', name: 'dataset' },
    h('option', { value: '' }, 'none'),
    usable.map((d, i) =>
      h(
        'option',
        { value: d.id, selected: i === 0 && fits(d) },
        `${d.name} — ${fmtInt(d.examples)} examples, [${d.featureShape.join('×')}]${fits(d) ? '' : ' (shape does not fit)'}`,
      ),
    ),
  );

  const sets = {
    prune: h(
      'fieldset',
      { dataset: { for: 'prune pipeline' } },
      h('legend', {}, 'Pruning'),
      choice('prune-method', 'Pruning method', ['magnitude', 'structured'], 'magnitude'),
      num('prune-sparsity', 'Target sparsity (0–0.99)', 0.8, { min: 0, max: 0.99 }),
      num('prune-epochs', 'Fine-tuning epochs', 2, { min: 0, max: 1000, step: 1 }),
      num('prune-batch', 'Fine-tuning batch size', 128, { min: 1, step: 1 }),
      num('prune-lr', 'Fine-tuning learning rate', 0.0001, { min: 0 }),
    ),
    distill: h(
      'fieldset',
      { dataset: { for: 'distill' } },
      h('legend', {}, 'Distillation (this model is the teacher)'),
      num('distill-width', 'Student width (fraction of the teacher)', 0.5, { min: 0.05, max: 1 }),
      num('distill-temperature', 'Temperature', 2, { min: 0.1, max: 100 }),
      num('distill-alpha', 'Soft-target weight (alpha, 0–1)', 1, { min: 0, max: 1 }),
      num('distill-epochs', 'Student epochs', 20, { min: 1, max: 1000, step: 1 }),
      num('distill-batch', 'Student batch size', 128, { min: 1, step: 1 }),
      num('distill-lr', 'Student learning rate', 0.001, { min: 0 }),
    ),
    quantize: h(
      'fieldset',
      { dataset: { for: 'quantize pipeline' } },
      h('legend', {}, 'Quantization'),
      choice('quantize-dtype', 'Weight type', ['uint8', 'uint16', 'float16'], 'uint8'),
    ),
  };
  const common = h(
    'fieldset',
    {},
    h('legend', {}, 'Data'),
    h('div', { class: 'field' }, h('label', { for: 'compress-dataset' }, 'Dataset'), datasetSelect),
    num('compress-limit', 'Use only the first N examples (empty: all)', '', { min: 1, step: 1, optional: true }),
  );

  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card compress', 'aria-labelledby': 'compress-h' },
    h('h2', { id: 'compress-h' }, 'Compress this model'),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Method'),
      Object.entries(KINDS).map(([k, text], i) =>
        h(
          'div',
          { class: 'radio' },
          h('input', { type: 'radio', id: `kind-${k}`, name: 'kind', value: k, checked: i === 0 }),
          h('label', { for: `kind-${k}` }, text),
        ),
      ),
    ),
    common,
    sets.prune,
    sets.distill,
    sets.quantize,
    h('button', { type: 'submit' }, 'Start compression job'),
    status,
  );

  const kind = () => form.elements.kind.value;
  const showSets = () => {
    for (const fs of Object.values(sets)) {
      const on = fs.dataset.for.split(' ').includes(kind());
      fs.hidden = !on;
      fs.disabled = !on;
    }
  };
  form.addEventListener('change', (e) => e.target.name === 'kind' && showSets());
  showSets();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = (id) => form.elements[id].value;
    const n = (id) => Number(v(id));
    const limit = v('compress-limit') ? { limit: n('compress-limit') } : {};
    const prune = {
      method: v('prune-method'),
      sparsity: n('prune-sparsity'),
      fineTuneEpochs: n('prune-epochs'),
      batchSize: n('prune-batch'),
      learningRate: n('prune-lr'),
      ...limit,
    };
    const quantize = { dtype: v('quantize-dtype'), ...limit };
    const datasetId = v('dataset') || undefined;
    const input = {
      prune: { type: 'PRUNE', modelId: model.id, datasetId, params: prune },
      distill: {
        type: 'DISTILL',
        teacherModelId: model.id,
        datasetId,
        params: {
          student: { widthMultiplier: n('distill-width') },
          temperature: n('distill-temperature'),
          alpha: n('distill-alpha'),
          epochs: n('distill-epochs'),
          batchSize: n('distill-batch'),
          learningRate: n('distill-lr'),
          ...limit,
        },
      },
      quantize: { type: 'QUANTIZE', modelId: model.id, datasetId, params: quantize },
      pipeline: {
        type: 'PIPELINE',
        modelId: model.id,
        datasetId,
        params: {
          steps: [
            { type: 'prune', params: prune },
            { type: 'quantize', params: quantize },
          ],
        },
      },
    }[kind()];
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    fill(status, h('p', { class: 'muted' }, 'Creating the job…'));
    try {
      const { createJob } = await gql(`mutation Create($input: CreateJobInput!) { createJob(input: $input) { id } }`, { input });
      location.hash = `#/jobs/${createJob.id}`;
    } catch (err) {
      fill(status, errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function deleteButton(model) {
  const status = h('div', { 'aria-live': 'polite' });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      onClick: async () => {
        if (!confirm(`Delete model "${model.name}" and its files?`)) return;
        try {
          await gql(`mutation Del($id: ID!) { deleteModel(id: $id) }`, { id: model.id });
          location.hash = '#/models';
        } catch (e) {
          fill(status, errorBox(e));
        }
      },
    },
    'Delete model',
  );
  return h('section', { class: 'danger-zone' }, button, status);
}
