// GraphiQL at /graphiql with every asset served from the installed packages (issue 18): mercurius's own page loads
// React and GraphiQL from unpkg, which fails offline and needs a CDN hole in the CSP. Here the page and its small
// bootstrap (src/graphql/graphiql/) and the UMD builds of react, react-dom and graphiql (exact pins in
// package.json) come from this server, so the page's CSP is the dashboard's same-origin one.
// One route per file, no wildcard: nothing else under node_modules is reachable.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));
const PAGE_DIR = fileURLToPath(new URL('./graphiql/', import.meta.url));

const JS = 'application/javascript; charset=utf-8';
/** URL → [file, content type]. */
const FILES: Record<string, [string, string]> = {
  '/graphiql': [path.join(PAGE_DIR, 'index.html'), 'text/html; charset=utf-8'],
  '/graphiql/main.js': [path.join(PAGE_DIR, 'main.js'), JS],
  '/graphiql/assets/react.production.min.js': [path.join(packageDir('react'), 'umd', 'react.production.min.js'), JS],
  '/graphiql/assets/react-dom.production.min.js': [path.join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'), JS],
  '/graphiql/assets/graphiql.min.js': [path.join(packageDir('graphiql'), 'graphiql.min.js'), JS],
  '/graphiql/assets/graphiql.min.css': [path.join(packageDir('graphiql'), 'graphiql.min.css'), 'text/css; charset=utf-8'],
};

export function registerGraphiql(app: FastifyInstance) {
  for (const [url, [file, type]] of Object.entries(FILES)) {
    if (!fs.existsSync(file)) throw new Error(`GraphiQL asset missing: ${file} (npm ci?)`);
    // Revalidated on every load (a deploy may change them); they are only fetched by people opening the page.
    app.get(url, async (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(fs.createReadStream(file)));
  }
}
