/** Security finding 7, the smaller items: ustar fallback names, mkdeb descriptions, audit actors. */
import { recordAudit } from '../../../shared/app/audit';
import { entryHeaders } from '../../../shared/formats/tar';
import { createMemoryDeps } from '../../../shared/adapters/memory';
import { findTask, validateTaskData } from '../../../shared/tasks';

/** The ustar `name` field (bytes 0-99) of the last header: what a reader without PAX support extracts. */
function ustarName(path: string): string {
  const headers = entryHeaders({ path, size: 1, mtime: new Date(0) });
  return headers[headers.length - 1]!.subarray(0, 100).toString('latin1').replace(/\0+$/, '');
}

it.each([
  `aaaaax../${'b'.repeat(97)}`, // the last 100 bytes start inside "aaaaax..": "../bbb..."
  `${'a'.repeat(60)}/${'b'.repeat(37)}../../etc/passwd`,
  `${'x'.repeat(97)}/../secret`,
  `${'日'.repeat(40)}/../../up`,
  `/${'y'.repeat(120)}`,
])('the ustar fallback name of %s never starts with / or ../', (path) => {
  const name = ustarName(path);
  expect(name.length).toBeGreaterThan(0);
  expect(name.length).toBeLessThanOrEqual(100);
  expect(name).not.toMatch(/^(\/|\.\.?(\/|$))/);
});

it('mkdeb refuses a description with a newline (it would add fields to DEBIAN/control)', () => {
  const mkdeb = findTask('Worker', 'mkdeb')!;
  const base = { package: 'hello', version: '1.0', architecture: 'amd64' };
  expect(() => validateTaskData(mkdeb, { ...base, description: 'hi\nDepends: evil' })).toThrow(/one line/);
  expect(() => validateTaskData(mkdeb, { ...base, description: 'tab\tinside' })).toThrow(/one line/);
  expect(validateTaskData(mkdeb, { ...base, description: 'a fine package' })).toMatchObject({ description: 'a fine package' });
});

it('an audit entry needs an actor', async () => {
  const deps = createMemoryDeps();
  await expect(recordAudit(deps, undefined as never, 'user.create', {})).rejects.toThrow(/without an actor/);
  await expect(recordAudit(deps, ' ', 'user.create', {})).rejects.toThrow(/without an actor/);
  await recordAudit(deps, 'user:alice', 'user.create', {});
});
