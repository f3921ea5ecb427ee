// Recognises a job failure that means the worker process itself ran out of memory: a wasm trap or abort (tfjs wasm's
// 4 GB heap: "memory access out of bounds", "Aborted()", "Cannot enlarge memory"), a V8 allocation failure ("Array
// buffer allocation failed", an impossible typed-array length from an allocation that overflowed wasm's 32-bit
// addresses), a native out-of-memory (tfjs-node, WebGPU). After one, the backend's heap is unusable or leaked (the
// issue's worker failed every later job with "Aborted()"), so the job fails with RESOURCE_LIMIT and the worker
// process is recycled. Causes are followed, so a kind that wrapped the error in its own AppError is still seen.
/** Exit status of a worker process that recycles itself (EX_TEMPFAIL): restart it at once, it is not a crash. */
export const RECYCLE_EXIT_CODE = 75;

const MESSAGES =
  /memory access out of bounds|Aborted\(|Cannot enlarge memory|out of memory|\bOOM\b|Array buffer allocation failed|Invalid typed array length|Invalid array buffer length|bad_alloc|failed to allocate|Could not allocate/i;

export function isResourceExhaustion(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 8; depth++) {
    if (typeof e === 'object') {
      const { name, message } = e as { name?: unknown; message?: unknown };
      if (name === 'RuntimeError' || (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError)) return true;
      if (typeof message === 'string' && MESSAGES.test(message)) return true;
      e = (e as { cause?: unknown }).cause;
    } else return typeof e === 'string' && MESSAGES.test(e);
  }
  return false;
}
