/**
 * The web UI's size budget (issue 14: all of its JavaScript ≤ 100 KB gzipped), checked on the files as
 * served (web/ has no build step), and that the page loads nothing from anywhere but its own origin.
 * Its speed is measured by `npm run bench -- --only web-ui`, not here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleSizes, JS_BUDGET_BYTES, WEB_DIR } from '../../bench/web-ui';

describe('the web UI bundle', () => {
  it('keeps its JavaScript within 100 KB gzipped', () => {
    const files = bundleSizes();
    const js = files.filter((f) => f.path.endsWith('.js'));
    expect(js.map((f) => f.path)).toContain('app.js');
    expect(js.reduce((total, f) => total + f.gzipBytes, 0)).toBeLessThanOrEqual(JS_BUDGET_BYTES);
  });

  it('loads only its own files: no framework or CDN from elsewhere', () => {
    const index = readFileSync(join(WEB_DIR, 'index.html'), 'utf8');
    const app = readFileSync(join(WEB_DIR, 'app.js'), 'utf8');
    const references = [...index.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => m[1]);
    expect(references.sort()).toEqual(['app.js', 'style.css']);
    expect(app).not.toMatch(/^\s*import\s/m); // one module, nothing imported
  });
});
