/** Writes docs/openapi.json from the manifest and the zod schemas (`npm run openapi`). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiDocument } from '../shared/http/openapi';

writeFileSync(join(__dirname, '..', 'docs', 'openapi.json'), JSON.stringify(openApiDocument(), null, 2) + '\n');
