// The replica threads of this thread's data-parallel trainings. Starting one costs seconds (a fresh V8 isolate
// loads tfjs and instantiates the wasm backend), so replicas are kept between trainings and reused; one idle for
// IDLE_MS is ended (its wasm heap never shrinks). Workers are unref'd: they never keep the process alive, and
// they die with it (SIGKILL of a worker process needs nothing from us).
import type { Worker } from 'node:worker_threads';
import { startTsThread } from '../../ts-thread.ts';

const IDLE_MS = 60_000;

export interface ReplicaThread {
  readonly worker: Worker;
  /** Resolves once the thread has loaded tfjs and its backend (it can take a session without delay). */
  readonly started: Promise<void>;
  /** True once started resolved. */
  isStarted(): boolean;
}

class Replica implements ReplicaThread {
  readonly worker: Worker;
  readonly started: Promise<void>;
  private startedFlag = false;
  private idleTimer: NodeJS.Timeout | null = null;
  dead = false;

  constructor() {
    this.worker = startTsThread(import.meta.url, 'replica-worker');
    this.worker.unref();
    this.started = new Promise<void>((resolve, reject) => {
      const onMessage = (m: { type?: string }) => {
        if (m.type !== 'started') return;
        this.worker.off('message', onMessage);
        this.startedFlag = true;
        resolve();
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`replica thread exited with code ${code} while starting`)));
    });
    // Nobody may be waiting on `started` (a session that ended before the thread came up).
    this.started.catch(() => undefined);
    this.worker.once('exit', () => {
      this.dead = true;
      remove(this);
    });
  }

  isStarted(): boolean {
    return this.startedFlag;
  }

  leased(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  released(): void {
    this.idleTimer = setTimeout(() => void this.worker.terminate(), IDLE_MS);
    this.idleTimer.unref();
  }
}

const idle: Replica[] = [];
const all = new Set<Replica>();

function remove(r: Replica): void {
  all.delete(r);
  const i = idle.indexOf(r);
  if (i >= 0) idle.splice(i, 1);
}

/** Takes `n` replica threads for a session: idle ones first (started ones before starting ones), new ones after. */
export function leaseReplicas(n: number): ReplicaThread[] {
  idle.sort((a, b) => Number(b.isStarted()) - Number(a.isStarted()));
  const out: Replica[] = idle.splice(0, n);
  while (out.length < n) {
    const r = new Replica();
    all.add(r);
    out.push(r);
  }
  for (const r of out) r.leased();
  return out;
}

/** Returns replicas to the pool once their session ended (dead ones are dropped). */
export function releaseReplicas(replicas: ReplicaThread[]): void {
  for (const r of replicas as Replica[]) {
    if (r.dead || idle.includes(r)) continue;
    idle.push(r);
    r.released();
  }
}

/** Starts replica threads ahead of a training (e.g. when a job thread starts) so its first steps use them. */
export async function warmReplicas(n: number): Promise<void> {
  const missing = Math.max(0, n - idle.length);
  const fresh = leaseReplicas(missing);
  releaseReplicas(fresh);
  await Promise.all(idle.slice(0, n).map((r) => r.started));
}

/** Ends every replica thread of this thread (tests, shutdown). */
export async function closeReplicas(): Promise<void> {
  await Promise.all([...all].map((r) => r.worker.terminate()));
  idle.length = 0;
  all.clear();
}
