// validationField: one spelling of the failing field for Ajv (REST) and TypeBox (GraphQL input, job params) errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { registerProblemHandler } from '../../src/http/problem.ts';
import { validationField, validationMessage } from '../../src/schemas/validation-field.ts';

const Schema = Type.Object({
  steps: Type.Array(Type.Object({ type: Type.String(), params: Type.Object({ epochs: Type.Integer() }) })),
});
const input = {
  steps: [
    { type: 'train', params: { epochs: 1 } },
    { type: 'train', params: {} },
  ],
};

describe('validationField', () => {
  it('names a missing property under an array element the same way for TypeBox and for REST (Ajv)', async () => {
    const typebox = [...Value.Errors(Schema, input)][0];
    assert.ok(typebox);
    assert.equal(validationField('params', typebox), 'params.steps[1].params.epochs');
    const app = Fastify();
    registerProblemHandler(app);
    app.post('/x', { schema: { body: Schema } }, async () => 'ok');
    const res = await app.inject({ method: 'POST', url: '/x', payload: input });
    assert.equal(res.statusCode, 400);
    const problem = res.json<{ code: string; details: { field: string } }>();
    assert.equal(problem.code, 'VALIDATION_FAILED');
    assert.equal(problem.details.field, 'body.steps[1].params.epochs');
    await app.close();
  });

  it('a wrong value names the value itself; no prefix and no path give the bare property or nothing', () => {
    assert.equal(validationField('input', { instancePath: '/steps/0/type', keyword: 'type', params: {} }), 'input.steps[0].type');
    assert.equal(validationField(undefined, { instancePath: '/limit', keyword: 'maximum' }), 'limit');
    assert.equal(validationField(undefined, { instancePath: '', keyword: 'required', params: { missingProperty: 'name' } }), 'name');
    assert.equal(validationField('querystring', { instancePath: '' }), 'querystring');
  });
});

describe('validationMessage', () => {
  const Enum = Type.Object({ dtype: Type.Enum(['float16', 'uint8', 'uint16']), kind: Type.Union([Type.Literal('a'), Type.Literal('b')]) });
  it('lists the allowed values of an enum and of a union of constants, for TypeBox and for REST (Ajv)', async () => {
    assert.equal(validationMessage([...Value.Errors(Enum, { dtype: 'int4', kind: 'a' })]), 'must be one of: float16, uint8, uint16');
    assert.equal(validationMessage([...Value.Errors(Enum, { dtype: 'uint8', kind: 'c' })]), 'must be one of: a, b');
    const app = Fastify();
    registerProblemHandler(app);
    app.post('/x', { schema: { body: Enum } }, async () => 'ok');
    const res = await app.inject({ method: 'POST', url: '/x', payload: { dtype: 'int4', kind: 'a' } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json<{ detail: string }>().detail, 'body.dtype: must be one of: float16, uint8, uint16');
    const union = await app.inject({ method: 'POST', url: '/x', payload: { dtype: 'uint8', kind: 'c' } });
    assert.equal(union.json<{ detail: string }>().detail, 'body.kind: must be one of: a, b');
  });
});
