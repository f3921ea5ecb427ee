// Password authentication for the embedded PGlite socket server (issue 18). @electric-sql/pglite-socket 0.2.17
// hands a connection's startup message straight to PGlite, which answers AuthenticationOk to anyone: every local
// user could open the database and, for instance, insert an admin API key. This puts the PostgreSQL MD5 password
// exchange in front of it: each new connection must answer an MD5 challenge (salted per connection, so the
// password never crosses the socket) before the server sees it; a wrong or missing password gets
// FATAL 28P01 and is closed. Every client we use (pg, Prisma's pg adapter, pg-boss, psql) speaks MD5.
// The password itself lives in a 0600 file next to the database, created at first start (embeddedPasswordFile).
import crypto from 'node:crypto';
import type net from 'node:net';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const PROTOCOL_3 = 196_608;
const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;
/** A client that has not finished the handshake by then is dropped (it holds no backend resources, only a socket). */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Startup and password messages are tiny; anything larger is not a PostgreSQL client. */
const MAX_HANDSHAKE_BYTES = 10_000;

/** md5 password hash as PostgreSQL computes it: "md5" + md5(md5(password + user) + salt). */
export function md5Answer(password: string, user: string, salt: Buffer): string {
  const inner = crypto
    .createHash('md5')
    .update(password + user)
    .digest('hex');
  return (
    'md5' +
    crypto
      .createHash('md5')
      .update(Buffer.concat([Buffer.from(inner), salt]))
      .digest('hex')
  );
}

function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}

function md5Challenge(salt: Buffer): Buffer {
  const msg = Buffer.alloc(13);
  msg.write('R', 0);
  msg.writeInt32BE(12, 1);
  msg.writeInt32BE(5, 5); // AuthenticationMD5Password
  salt.copy(msg, 9);
  return msg;
}

/** Parses the startup message's key/value pairs (after length and protocol version). */
function startupParams(msg: Buffer): Record<string, string> {
  const parts = msg.subarray(8).toString('utf8').split('\0');
  const params: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) params[parts[i]] = parts[i + 1];
  return params;
}

/**
 * Runs the password handshake on a new socket; on success hands it, with the startup message replayed, to
 * `accept` (the socket server's own connection handler), which then talks to PGlite as before.
 */
function authenticate(socket: net.Socket, password: string, accept: (socket: net.Socket) => void) {
  let buffer = Buffer.alloc(0);
  let startup: Buffer | null = null;
  let user = '';
  const salt = crypto.randomBytes(4);
  const timer = setTimeout(() => socket.destroy(), HANDSHAKE_TIMEOUT_MS);
  const fail = (code: string, message: string) => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.end(errorResponse(code, message));
  };
  const onData = (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (buffer.length > MAX_HANDSHAKE_BYTES) return fail('08P01', 'invalid startup packet');
    while (startup === null && buffer.length >= 8) {
      const length = buffer.readInt32BE(0);
      const code = buffer.readInt32BE(4);
      if (length < 8 || length > MAX_HANDSHAKE_BYTES) return fail('08P01', 'invalid startup packet');
      if (buffer.length < length) return;
      const msg = buffer.subarray(0, length);
      buffer = buffer.subarray(length);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        socket.write('N'); // no encryption on loopback: the client goes on in plain text (sslmode=disable/prefer)
      } else if (code === CANCEL_REQUEST) {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.destroy(); // PGlite cannot cancel queries either
        return;
      } else if (code === PROTOCOL_3) {
        startup = Buffer.from(msg);
        user = startupParams(startup).user ?? '';
        socket.write(md5Challenge(salt));
      } else {
        return fail('08P01', 'unsupported frontend protocol');
      }
    }
    if (startup === null || buffer.length < 5) return;
    if (buffer[0] !== 'p'.charCodeAt(0)) return fail('28P01', 'password authentication required');
    const length = 1 + buffer.readInt32BE(1);
    if (buffer.length < length) return;
    const answer = buffer.subarray(5, length - 1); // NUL-terminated
    const expected = Buffer.from(md5Answer(password, user, salt));
    const rest = buffer.subarray(length);
    if (answer.length !== expected.length || !crypto.timingSafeEqual(answer, expected)) {
      return fail('28P01', `password authentication failed for user "${user}"`);
    }
    clearTimeout(timer);
    socket.off('data', onData);
    // The server's handler attaches its 'data' listener synchronously: replaying the startup message now makes PGlite
    // answer it (AuthenticationOk, parameters, ReadyForQuery) as if it had been the first thing on the socket.
    accept(socket);
    socket.emit('data', rest.length > 0 ? Buffer.concat([startup, rest]) : startup);
  };
  socket.on('data', onData);
  socket.on('error', () => clearTimeout(timer));
  socket.on('close', () => clearTimeout(timer));
}

/** Makes `server` (not yet started) require `password` from every connection. */
export function requirePassword(server: PGLiteSocketServer, password: string) {
  const target = server as unknown as { handleConnection(socket: net.Socket): Promise<void> };
  const handle = target.handleConnection.bind(server);
  target.handleConnection = async (socket: net.Socket) => authenticate(socket, password, (s) => void handle(s));
}
