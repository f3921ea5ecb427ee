// Talking to the service: GraphQL over fetch, subscriptions over one shared WebSocket (the graphql-transport-ws
// protocol that mercurius serves on /graphql), REST for uploads and file downloads.

export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export async function gql(query, variables = {}) {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json().catch(() => null);
  const err = body?.errors?.[0];
  if (err) throw new ApiError(err.message, err.extensions?.code, res.status);
  if (!res.ok || !body?.data) throw new ApiError(`GraphQL request failed (HTTP ${res.status})`, 'HTTP_ERROR', res.status);
  return body.data;
}

/** A multipart upload to a REST collection (/v1/models or /v1/datasets); resolves with the created resource. */
export async function upload(collectionPath, formData) {
  const res = await fetch(collectionPath, { method: 'POST', body: formData });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(body?.detail ?? body?.title ?? `upload failed (HTTP ${res.status})`, body?.code, res.status);
  return body;
}

export const fileUrl = (kind, id, path) => `/v1/${kind}/${id}/files/${encodeURIComponent(path)}`;

// ---- subscriptions -------------------------------------------------------------------------------------------

let socket = null; // { ws, ready: Promise, handlers: Map<id, handlers> }
let nextId = 1;
const liveListeners = new Set();

/** Calls fn(state) with 'live' | 'polling' | 'idle' whenever the WebSocket state changes. */
export function onLiveState(fn) {
  liveListeners.add(fn);
  return () => liveListeners.delete(fn);
}
const setLive = (state) => liveListeners.forEach((fn) => fn(state));

function connect() {
  if (socket) return socket;
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`, 'graphql-transport-ws');
  const handlers = new Map();
  const s = { ws, handlers };
  s.ready = new Promise((resolve, reject) => {
    ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === 'connection_ack') {
        setLive('live');
        resolve();
      } else if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else if (msg.type === 'next') handlers.get(msg.id)?.next(msg.payload);
      else if (msg.type === 'error') {
        const err = Array.isArray(msg.payload) ? msg.payload[0] : msg.payload;
        handlers.get(msg.id)?.error(new ApiError(err?.message ?? 'subscription error', err?.extensions?.code));
        handlers.delete(msg.id);
      } else if (msg.type === 'complete') {
        handlers.get(msg.id)?.complete();
        handlers.delete(msg.id);
      }
    });
    ws.addEventListener('close', () => {
      socket = null;
      const lost = new ApiError('live connection closed', 'WS_CLOSED');
      for (const h of handlers.values()) h.error(lost);
      handlers.clear();
      setLive('polling');
      reject(lost);
    });
  });
  s.ready.catch(() => {});
  socket = s;
  return s;
}

/**
 * Subscribes to a GraphQL subscription. handlers: { next(data), complete(), error(err) }; `error` also fires when the
 * socket cannot open or drops (callers then fall back to polling). Returns an unsubscribe function.
 */
export function subscribe(query, variables, handlers) {
  const id = String(nextId++);
  let active = true;
  const wrapped = {
    next: (payload) => {
      if (!active) return;
      if (payload?.errors?.length) wrapped.error(new ApiError(payload.errors[0].message, payload.errors[0].extensions?.code));
      else handlers.next(payload.data);
    },
    complete: () => active && ((active = false), handlers.complete?.()),
    error: (e) => active && ((active = false), handlers.error?.(e)),
  };
  let s;
  try {
    s = connect();
  } catch (e) {
    queueMicrotask(() => wrapped.error(e));
    return () => {};
  }
  s.handlers.set(id, wrapped);
  s.ready.then(
    () => active && s.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
    () => {},
  );
  return () => {
    if (!active) return;
    active = false;
    s.handlers.delete(id);
    if (s.ws.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify({ id, type: 'complete' }));
  };
}

/**
 * Live values with a polling fallback: subscribes, and if the subscription errors before it completes, calls
 * poll() every `intervalMs` until it returns true (done) or the returned stop function is called.
 */
export function liveOrPoll({ query, variables, onData, onComplete, poll, intervalMs = 2000 }) {
  let timer = null;
  let stopped = false;
  const startPolling = () => {
    if (stopped || timer) return;
    const tick = async () => {
      let done = false;
      try {
        done = await poll();
      } catch {
        /* transient: try again next tick */
      }
      if (done) onComplete?.();
      else if (!stopped) timer = setTimeout(tick, intervalMs);
    };
    timer = setTimeout(tick, 0);
  };
  const unsubscribe = subscribe(query, variables, {
    next: onData,
    complete: () => onComplete?.(),
    error: (e) => (e.code === 'NOT_FOUND' ? onComplete?.() : startPolling()),
  });
  return () => {
    stopped = true;
    unsubscribe();
    clearTimeout(timer);
  };
}
