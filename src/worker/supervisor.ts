// The worker of `npm start` in embedded mode, off the API's event loop: a child process running `modelpress
// worker` against this process's database (the embedded PGlite socket), so training never stalls a request.
// Job events, progress and metrics reach the API through the database as from any worker; the child's log lines
// are re-emitted through this process's logger. A child that dies (crash, OOM, SIGKILL) is started again; its
// running job is requeued by the new child's lease sweep. A child that exits with RECYCLE_EXIT_CODE (a job ran out
// of memory; that job is already failed with RESOURCE_LIMIT) is replaced at once. stop() sends SIGTERM (the child finishes or requeues
// its jobs within its grace period) and waits for the exit.
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WorkerLog } from './job-run.ts';
import { RECYCLE_EXIT_CODE } from './resource-failure.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
/** Restart delay after an unexpected exit, doubled per crash in a row up to the maximum. */
const RESTART_MS = [250, 30_000] as const;

export interface WorkerSupervisorOptions {
  databaseUrl: string;
  concurrency: number;
  log: WorkerLog;
  /** The environment this process's config was loaded from, handed to the child (default: process.env). */
  env?: Record<string, string | undefined>;
}

export class WorkerSupervisor {
  private child: ChildProcess | null = null;
  private stopping = false;
  private crashes = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private startedListeners: (() => void)[] = [];

  constructor(private readonly opts: WorkerSupervisorOptions) {}

  /** pid of the current worker process (null while none runs). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Starts the child; resolves once it logged "worker started". */
  start(): Promise<void> {
    const started = new Promise<void>((resolve) => this.startedListeners.push(resolve));
    this.spawn();
    return started;
  }

  /** Resolves when the next (re)started child is ready. */
  nextStart(): Promise<void> {
    return new Promise<void>((resolve) => this.startedListeners.push(resolve));
  }

  private spawn() {
    const { databaseUrl, concurrency, log, env } = this.opts;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'worker', '--concurrency', String(concurrency)], {
      cwd: ROOT,
      env: { ...(env ?? process.env), DATABASE_URL: databaseUrl, MODELPRESS_IN_PROCESS_WORKER: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const relay = (line: string) => {
      let entry: { level?: string; msg?: string; [k: string]: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        entry = { level: 'info', msg: line };
      }
      const { level = 'info', msg = '', ...rest } = entry;
      const obj = { ...rest, workerPid: child.pid };
      if (level === 'error') log.error(obj, msg);
      else if (level === 'warn') log.warn(obj, msg);
      else log.info(obj, msg);
      if (msg === 'worker started') {
        this.crashes = 0;
        for (const l of this.startedListeners.splice(0)) l();
      }
    };
    readline.createInterface({ input: child.stdout }).on('line', relay);
    readline.createInterface({ input: child.stderr }).on('line', relay);
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      if (code === RECYCLE_EXIT_CODE) {
        log.warn({ code }, 'worker process recycled itself (a job ran out of memory); starting a fresh one');
        this.spawn();
        return;
      }
      const delay = Math.min(RESTART_MS[1], RESTART_MS[0] * 2 ** this.crashes++);
      log.error({ code, signal, restartInMs: delay }, 'worker process exited unexpectedly; restarting it');
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.stopping) this.spawn();
      }, delay);
    });
  }

  /** SIGTERM to the child (it finishes or requeues its jobs), then waits for it to exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }
}
