// `modelpress keys create --scope read|write|admin --name NAME [--project ID]` (prints the key once; with
// --project the key sees only that project, without it is global), `keys list`, `keys revoke ID`, and projects:
// `keys create-project ID [--name NAME]`, `keys projects`. Works against DATABASE_URL, or the embedded database
// (joining a running server's).
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { createRuntime } from '../runtime.ts';
import { ALL_PROJECTS, ProjectService } from '../domain/projects.ts';
import { ApiKeyService } from '../security/api-keys.ts';

const USAGE =
  'usage: modelpress keys create --scope read|write|admin --name NAME [--project ID] | keys list | keys revoke ID | ' +
  'keys create-project ID [--name NAME] | keys projects';
const SUBCOMMANDS = ['create', 'list', 'revoke', 'create-project', 'projects'];

export async function runKeysCommand(config: Config, args: string[], out: (line: string) => void = console.log): Promise<number> {
  const [sub, ...rest] = args;
  if (!SUBCOMMANDS.includes(sub)) {
    out(USAGE);
    return 2;
  }
  const runtime = await createRuntime(config, { joinEmbedded: true });
  try {
    const keys = new ApiKeyService(runtime.db);
    const projects = new ProjectService(runtime.db);
    if (sub === 'create') {
      const { values } = parseArgs({ args: rest, options: { scope: { type: 'string' }, name: { type: 'string' }, project: { type: 'string' } } });
      const { key, apiKey } = await keys.create({ name: values.name ?? '', scope: values.scope ?? '', projectId: values.project ?? null });
      const where = apiKey.projectId ? `in project ${apiKey.projectId}` : 'global (every project)';
      out(`created key ${apiKey.id} (${apiKey.name}, scope ${apiKey.scope}) ${where}; it is shown only now:`);
      out(key);
    } else if (sub === 'create-project') {
      const { values, positionals } = parseArgs({ args: rest, options: { name: { type: 'string' } }, allowPositionals: true });
      if (!positionals[0]) {
        out(USAGE);
        return 2;
      }
      const p = await projects.create({ id: positionals[0], name: values.name });
      out(`created project ${p.id} (${p.name}); create its keys with: modelpress keys create --project ${p.id} --scope write --name NAME`);
    } else if (sub === 'projects') {
      for (const p of await projects.list(ALL_PROJECTS)) out([p.id, p.name, `created ${p.createdAt}`].join('\t'));
    } else if (sub === 'list') {
      for (const k of await keys.list()) {
        out(
          [
            k.id,
            k.prefix + '…',
            k.scope,
            k.name,
            k.projectId ? `project ${k.projectId}` : 'global',
            `created ${k.createdAt}`,
            `last used ${k.lastUsedAt ?? 'never'}`,
            k.revokedAt ? `REVOKED ${k.revokedAt}` : 'active',
          ].join('\t'),
        );
      }
    } else {
      if (!rest[0]) {
        out(USAGE);
        return 2;
      }
      const k = await keys.revoke(rest[0]);
      out(`revoked ${k.id} (${k.name}) at ${k.revokedAt}`);
    }
    return 0;
  } finally {
    await runtime.close();
  }
}
