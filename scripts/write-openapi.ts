// `npm run openapi`: writes the OpenAPI document generated from the route schemas to openapi/openapi.json.
// test/integration/openapi.test.ts fails when the committed file differs from what the code generates.
import fs from 'node:fs/promises';
import { generateOpenApi } from '../test/helpers/openapi.ts';

const doc = await generateOpenApi();
const file = new URL('../openapi/openapi.json', import.meta.url);
await fs.writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
console.log(`wrote ${file.pathname} (${Object.keys((doc as { paths: object }).paths).length} paths)`);
process.exit(0);
