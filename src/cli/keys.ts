// `modelpress keys create --scope read|write|admin --name NAME` (prints the key once), `keys list`,
// `keys revoke ID`. Works against DATABASE_URL, or the embedded database (joining a running server's).
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { createRuntime } from '../runtime.ts';
import { ApiKeyService } from '../security/api-keys.ts';

const USAGE = 'usage: modelpress keys create --scope read|write|admin --name NAME | keys list | keys revoke ID';

export async function runKeysCommand(config: Config, args: string[], out: (line: string) => void = console.log): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') {
    out(USAGE);
    return 2;
  }
  const runtime = await createRuntime(config, { joinEmbedded: true });
  try {
    const keys = new ApiKeyService(runtime.db);
    if (sub === 'create') {
      const { values } = parseArgs({ args: rest, options: { scope: { type: 'string' }, name: { type: 'string' } } });
      const { key, apiKey } = await keys.create({ name: values.name ?? '', scope: values.scope ?? '' });
      out(`created key ${apiKey.id} (${apiKey.name}, scope ${apiKey.scope}); it is shown only now:`);
      out(key);
    } else if (sub === 'list') {
      for (const k of await keys.list()) {
        out(
          [
            k.id,
            k.prefix + '…',
            k.scope,
            k.name,
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
