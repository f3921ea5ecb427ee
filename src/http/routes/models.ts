import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../runtime.ts';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { EXPORT_FORMATS, MODEL_FORMATS } from '../../formats/models/registry.ts';
import { errorResponses, IdParams } from '../../schemas/common.ts';
import { ModelListQuery, ModelPatch } from '../../schemas/model.ts';
import { registerFileResourceRoutes } from './file-resource.ts';

/** An attachment header with an ASCII fallback and the UTF-8 name (RFC 6266), as file downloads send it. */
const contentDisposition = (name: string) =>
  `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`;

export const modelRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  registerFileResourceRoutes(app, {
    plural: 'models',
    singular: 'model',
    schemaId: 'Model',
    pageSchemaId: 'ModelPage',
    listQuery: ModelListQuery,
    uploadDescription:
      `A model in one of these formats, recognised from the files' content: ${MODEL_FORMATS.map((f) => f.title).join('; ')}. ` +
      'TF.js Layers: `model.json` plus every weight shard its weightsManifest names, or one `.zip` holding them. ' +
      'Keras: one `.h5` (or a weights-only `.h5` with the architecture JSON from model.to_json()), or one `.keras`. ' +
      'Other formats are converted to a trainable TF.js Layers model on upload; the original is kept under `source/`. ' +
      'Files stream to the object store; nothing is kept if validation fails ' +
      '(422 INVALID_MODEL, MISSING_WEIGHTS, WEIGHTS_MISMATCH, UNSUPPORTED_OPERATOR naming every layer or operator that cannot be converted; 413 over the size limits).',
    uploadFields: {
      name: Type.Optional(Type.String({ description: 'Display name' })),
      preprocessing: Type.Optional(
        Type.String({
          description:
            'JSON: what the model expects as input, e.g. {"scale":1} for a model trained on 0-255 pixels, {"scale":0.00392156862745098,"mean":[0.1307],"std":[0.3081]} ' +
            'for torchvision-style normalization, {"layout":"NCHW"}; fields as in Model.preprocessing. Absent: detected where the file says it ' +
            '(a leading Rescaling layer → raw 0-255 input; an NCHW ONNX graph → NCHW), else the dataset normalization is fed',
          examples: ['{"scale":1,"offset":0}'],
        }),
      ),
    },
    service: services.models,
  });

  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  typed.patch(
    '/models/:id',
    {
      schema: {
        tags: ['models'],
        operationId: 'updateModel',
        summary: "Change a model's name or declared input preprocessing",
        description:
          'Sets `preprocessing` (what the model expects as input: scale/offset, per-channel mean/std, layout), used by every later evaluate ' +
          'and job on this model; `null` clears it. Results of earlier jobs keep what they inherited.',
        params: IdParams,
        body: ModelPatch,
        response: { 200: { $ref: 'Model#' }, ...errorResponses(400, 404) },
      },
    },
    async (req) => services.models.update(req.projectScope, req.params.id, req.body),
  );

  typed.get(
    '/models/:id/export',
    {
      schema: {
        tags: ['models'],
        operationId: 'exportModel',
        summary: 'Download a model converted to another format',
        description:
          `The model (an upload or any job result) written as ${MODEL_FORMATS.filter((f) => f.export)
            .map((f) => `\`${f.exportName}\` (${f.title})`)
            .join(', ')}. ` +
          'ONNX graphs (opset 13) take NHWC input unless the model was imported from an NCHW graph (then NCHW, like the original); ' +
          '`layout` overrides that. Quantized models keep their uint8 weights behind DequantizeLinear (`quantized=qdq`) or are written ' +
          'as dequantized float32 (`quantized=float`). A structured-pruned model exports its smaller graph. ETag identifies the export (a hash of the model files, format and options); ' +
          'the first request stores the export in the object store and later ones send the stored file (X-Export-Cache: hit). ' +
          'If-None-Match answers 304. 422 UNSUPPORTED_OPERATOR names every layer the format cannot express.',
        params: IdParams,
        querystring: Type.Object({
          format: Type.Union(
            EXPORT_FORMATS.map((f) => Type.Literal(f)),
            { description: 'Export format' },
          ),
          quantized: Type.Optional(
            Type.Union([Type.Literal('qdq'), Type.Literal('float')], { description: 'ONNX only: how quantized weights are written (default qdq)' }),
          ),
          layout: Type.Optional(Type.Union([Type.Literal('NHWC'), Type.Literal('NCHW')], { description: 'ONNX only: layout of image inputs' })),
        }),
        response: {
          200: Type.String({ format: 'binary', description: 'The exported file; Content-Disposition names it' }),
          304: Type.Null({ description: 'Not modified (If-None-Match matched the ETag)' }),
          ...errorResponses(400, 404, 422),
        },
      },
    },
    async (req, reply) => {
      const exp = await services.models.exportModel(req.projectScope, req.params.id, req.query);
      reply.header('etag', exp.etag);
      const inm = req.headers['if-none-match'];
      if (inm && (inm.trim() === '*' || inm.split(',').some((t) => t.trim().replace(/^W\//, '') === exp.etag))) return reply.status(304).send(null);
      const out = await exp.build();
      return reply
        .header('content-type', out.mediaType)
        .header('content-length', out.data.byteLength)
        .header('content-disposition', contentDisposition(exp.fileName))
        .header('x-export-cache', out.cached ? 'hit' : 'miss')
        .send(out.data as unknown as string); // bytes, never serialized
    },
  );
};
