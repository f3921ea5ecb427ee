// isDatabaseConnectionError (src/db/pg-pool.ts): a run that failed on a lost database connection is requeued, one
// that failed on its own statement is not. The shapes are those pg, pg-pool and Prisma's pg adapter produce.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONNECTION_LOST, isDatabaseConnectionError } from '../../src/db/pg-pool.ts';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });

test('lost, refused and timed-out connections are connection errors, however wrapped', () => {
  for (const err of [
    pgError('57P01', 'terminating connection due to administrator command'),
    pgError('08006', 'connection failure'),
    pgError('53300', 'sorry, too many clients already'),
    new Error('Connection terminated unexpectedly'),
    new Error('Client has encountered a connection error and is not queryable'),
    new Error('Query read timeout'),
    new Error('timeout exceeded when trying to connect'),
    new Error(CONNECTION_LOST),
    Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    // Prisma: a DriverAdapterError's cause, a known request error's code, a wrapper's cause chain
    Object.assign(new Error('x'), { cause: { kind: 'postgres', originalCode: '57P01', code: '57P01', message: 'terminating connection' } }),
    Object.assign(new Error('x'), { cause: { kind: 'ConnectionClosed' } }),
    Object.assign(new Error("Can't reach database server at 127.0.0.1:5432"), { code: 'P1001' }),
    new Error('saving the model failed', { cause: new Error('outer', { cause: pgError('57P01', 'terminating connection') }) }),
  ]) {
    assert.equal(isDatabaseConnectionError(err), true, err.message);
  }
});

test("a statement's own errors, and non-errors, are not", () => {
  for (const err of [
    pgError('23505', 'duplicate key value violates unique constraint'),
    pgError('22P02', 'invalid input syntax for type uuid'),
    Object.assign(new Error('Unique constraint failed'), { code: 'P2002' }),
    new Error('job canceled'),
    null,
    undefined,
    'Connection',
    42,
  ]) {
    assert.equal(isDatabaseConnectionError(err), false, String(err));
  }
});
