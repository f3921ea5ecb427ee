// Work-around for @electric-sql/pglite-socket 0.2.17: its server feeds the messages of all connections to the one
// PGlite backend through one queue, a message at a time, so another connection's messages can slip into the
// middle of an extended-protocol batch (Parse, Bind, Describe, Execute … Sync). They share the backend's unnamed
// statement and portal, so under concurrent clients queries fail ("bind message supplies 3 parameters, but
// prepared statement "" requires 1") or, worse, run with another query's parameters.
// This replaces the queue's loop with one that keeps a connection's batch together, the way the server already
// keeps a connection's transaction together. (It also un-sticks the queue after a failed message.)
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';

interface QueueItem {
  handlerId: number;
  message: Uint8Array;
  resolve(bytes: number): void;
  reject(err: unknown): void;
  onData(data: Uint8Array): void;
}

interface QueryQueue {
  queue: QueueItem[];
  processing: boolean;
  lastHandlerId: number | null;
  db: PGlite;
  processQueue(): Promise<void>;
  clearQueueForHandler(handlerId: number): void;
}

/** Frontend messages that open or continue an extended-protocol batch; Sync ('S') and Query ('Q') end one. */
const IN_BATCH = new Set([...'PBDECH'].map((c) => c.charCodeAt(0)));

export function keepExtendedBatchesTogether(server: PGLiteSocketServer) {
  const q = (server as unknown as { queryQueue: QueryQueue }).queryQueue;
  /** The connection whose batch is open: only its messages run until its Sync. */
  let batchOwner: number | null = null;

  q.processQueue = async function processQueue() {
    if (q.processing || q.queue.length === 0) return;
    q.processing = true;
    try {
      while (q.queue.length > 0) {
        const owner = batchOwner ?? (q.db.isInTransaction() ? q.lastHandlerId : null);
        const index = owner === null ? 0 : q.queue.findIndex((item) => item.handlerId === owner);
        if (index === -1) break; // the owner's next message has not arrived yet: its enqueue restarts the loop
        const [item] = q.queue.splice(index, 1);
        let bytes = 0;
        try {
          await q.db.runExclusive(() =>
            q.db.execProtocolRawStream(item.message, {
              onRawData: (data: Uint8Array) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
        } catch (err) {
          batchOwner = null;
          item.reject(err);
          continue;
        }
        q.lastHandlerId = item.handlerId;
        batchOwner = IN_BATCH.has(item.message[0]) ? item.handlerId : null;
        item.resolve(bytes);
      }
    } finally {
      q.processing = false;
    }
  };

  const clear = q.clearQueueForHandler.bind(q);
  q.clearQueueForHandler = (handlerId: number) => {
    clear(handlerId);
    if (batchOwner === handlerId) {
      batchOwner = null; // a client gone mid-batch must not hold the others up
      void q.processQueue();
    }
  };
}
