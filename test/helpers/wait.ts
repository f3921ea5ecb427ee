// Waiting on a condition instead of sleeping a guessed time: `eventually` retries a check until it passes, so a
// slow machine only makes a test slower, never wrong; the deadline only bounds a check that never passes.
import { setTimeout as pause } from 'node:timers/promises';

/**
 * Runs `check` until it stops throwing (returning its value); rethrows its last error after `timeoutMs`.
 * `intervalMs` spaces checks that cost a request (API polls), so a waiting test does not load the server.
 */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 30_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await pause(intervalMs); // between checks only: not a guess at how long the work takes
    }
  }
}
