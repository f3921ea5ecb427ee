// Worker child processes for integration tests: `node --import tsx src/main.ts worker`, with the test app's env
// (for the embedded target its DATABASE_URL points at the test's PGlite socket server).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from './harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface WorkerChild {
  proc: ChildProcess;
  /** stdout + stderr so far (JSON log lines) */
  output(): string;
  /** Resolves once the worker logged "worker started". */
  ready: Promise<void>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `imports`: modules loaded before the worker (e.g. test-only job kinds, test/helpers/hold-kind.ts). */
export function spawnWorker(ctx: TestContext, opts: { concurrency?: number; env?: Record<string, string>; imports?: string[] } = {}): WorkerChild {
  const args = ['--import', 'tsx', ...(opts.imports ?? []).flatMap((m) => ['--import', m]), 'src/main.ts', 'worker'];
  if (opts.concurrency) args.push('--concurrency', String(opts.concurrency));
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...ctx.env, LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let onReady: () => void;
  let onFail: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    onReady = res;
    onFail = rej;
  });
  const collect = (b: Buffer) => {
    out += b.toString();
    if (out.includes('worker started')) onReady();
  };
  proc.stdout.on('data', collect);
  proc.stderr.on('data', collect);
  const exited = new Promise<number | null>((res) =>
    proc.on('exit', (code) => {
      onFail(new Error(`worker exited (${code}) before it started:\n${out}`));
      res(code);
    }),
  );
  return {
    proc,
    output: () => out,
    ready,
    exited,
    async kill(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
