/**
 * Lambda bundle size: `import { z } from 'zod'` makes esbuild keep zod's whole namespace object,
 * every locale included (≈ 450 KB minified); `import * as z from 'zod'` lets it keep only what is
 * used (≈ 85 KB). Every runtime module must use the namespace form.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

test('no runtime module imports zod as `{ z }`', () => {
  const offenders = ['shared', 'functions', 'cli']
    .flatMap((dir) => sources(join(ROOT, dir)))
    .filter((file) => /^import\s+\{\s*z\s*\}\s+from\s+'zod'/m.test(readFileSync(file, 'utf8')))
    .map((file) => file.slice(ROOT.length + 1));
  expect(offenders).toEqual([]);
});
