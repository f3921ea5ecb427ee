// `npm run clients`: generates two independent third-party TypeScript clients from the committed OpenAPI document,
// the way a consumer of the API would: @hey-api/openapi-ts (fetch client) into test/clients/heyapi and orval (fetch
// client) into test/clients/orval. Both are committed and type-checked by `tsc`; test/integration/generated-clients.test.ts
// runs the full flow with each against a live server and fails when the committed code differs from what this writes.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@hey-api/openapi-ts';
import { generate } from 'orval';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SPEC = path.join(ROOT, 'openapi/openapi.json');
export const CLIENTS_DIR = path.join(ROOT, 'test/clients');
/** The generated folders under test/clients (what the drift check compares). */
export const GENERATED = ['heyapi', 'orval'] as const;
/** orval's fetch mutator (hand-written, beside the generated folders). */
const MUTATOR = 'orval-fetch.ts';

/** Writes both clients under `outDir` (test/clients, or a temp folder for the drift check). */
export async function generateClients(outDir: string = CLIENTS_DIR): Promise<void> {
  await Promise.all(GENERATED.map((g) => fs.rm(path.join(outDir, g), { recursive: true, force: true })));
  await createClient({
    input: SPEC,
    output: { path: path.join(outDir, 'heyapi'), importFileExtension: '.js' },
    plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
    logs: { level: 'silent', file: false },
  });
  // orval 7.13's fetch client JSON.parses every body, so binary downloads go through its documented `mutator` hook:
  // test/clients/orval-fetch.ts (one fetch for all operations, bodies parsed by their Content-Type).
  await generate(
    {
      input: { target: SPEC },
      output: {
        target: path.join(outDir, 'orval/modelpress.ts'),
        client: 'fetch',
        mode: 'single',
        override: { mutator: { path: path.join(outDir, MUTATOR), name: 'orvalFetch', extension: '.js' } },
      },
    },
    ROOT,
  );
}

/** Every generated file under `dir`, relative path → text. */
export async function readGenerated(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const g of GENERATED) {
    for (const f of await fs.readdir(path.join(dir, g), { recursive: true, withFileTypes: true })) {
      if (!f.isFile()) continue;
      const full = path.join(f.parentPath, f.name);
      out.set(path.relative(dir, full), await fs.readFile(full, 'utf8'));
    }
  }
  return out;
}

/** Generates into a temp folder and returns the files that differ from the committed ones (empty: up to date). */
export async function staleGeneratedFiles(): Promise<string[]> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mp-clients-'));
  try {
    await fs.copyFile(path.join(CLIENTS_DIR, MUTATOR), path.join(tmp, MUTATOR));
    await generateClients(tmp);
    const [fresh, committed] = await Promise.all([readGenerated(tmp), readGenerated(CLIENTS_DIR)]);
    return [...new Set([...fresh.keys(), ...committed.keys()])].filter((k) => fresh.get(k) !== committed.get(k)).sort();
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await generateClients();
  console.log(`wrote ${GENERATED.map((g) => path.join(CLIENTS_DIR, g)).join(', ')}`);
}
