/**
 * The `lintian` task end to end: real Debian binary packages built here with `dpkg-deb --build`,
 * uploaded as `debian:binary-package` artifacts, checked by Debian's lintian in a real
 * `conveyor worker` on the local stack, which records the tags in a `debian:lintian` artifact
 * related `built-using` to its input.
 *
 * lintian and dpkg-deb must be installed (CI installs lintian through .ci/run): without them the
 * tests fail rather than skip.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256 } from '../support/world';
import { E2eHarness, WORKSPACE, requireTool } from './harness';
import { waitFor, type WorkerProcess } from './worker-process';

jest.setTimeout(300_000);

const NEEDS_TOOLS = "the lintian e2e tests need Debian's lintian and dpkg-deb; CI installs them via .ci/run (apt-get install lintian)";

const h = new E2eHarness({ tmpPrefix: 'conveyor-e2e-lintian-', workerLogChars: 8000, stackLogChars: 4000 });
const { expectStatus, diagnostics } = h;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  requireTool('lintian', ['--version'], NEEDS_TOOLS);
  requireTool('dpkg-deb', ['--version'], NEEDS_TOOLS);
  await h.start({ CONVEYOR_DEV_SCHEDULE_SECONDS: '1' });
  [worker] = await h.startWorkers(['lintian-worker.e2e.test']);
}, 240_000);

afterAll(() => h.stop({ stopWorkers: 'assert' }), 180_000);

// ------------------------------------------------------------------------------------ helpers

interface DebPackage {
  name: string;
  /** `<name>_1.0-1_all.deb` */
  fileName: string;
  bytes: Buffer;
}

/**
 * A real binary package: DEBIAN/control (Package, Version 1.0-1, Architecture all, Maintainer,
 * Description) and a README under /usr/share/doc/<name>/; with `documented`, also a machine-readable
 * copyright file and a changelog.Debian.gz (without them lintian reports errors).
 */
function buildDeb(name: string, opts: { documented: boolean }): DebPackage {
  const root = join(h.work, name);
  const doc = join(root, 'usr', 'share', 'doc', name);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(doc, { recursive: true });
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    [
      `Package: ${name}`,
      'Version: 1.0-1',
      'Architecture: all',
      'Maintainer: Conveyor Tests <tests@example.org>',
      'Description: tiny package for the Conveyor lintian e2e test',
      ' It holds nothing useful.',
      '',
    ].join('\n'),
  );
  writeFileSync(join(doc, 'README'), 'hello\n');
  if (opts.documented) {
    writeFileSync(
      join(doc, 'copyright'),
      [
        'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
        `Upstream-Name: ${name}`,
        '',
        'Files: *',
        'Copyright: 2024 Conveyor Tests',
        'License: MIT',
        '',
      ].join('\n'),
    );
    const changelog = `${name} (1.0-1) unstable; urgency=medium\n\n  * Initial release.\n\n -- Conveyor Tests <tests@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n`;
    writeFileSync(join(doc, 'changelog.Debian.gz'), gzipSync(changelog, { level: 9 }));
  }
  const fileName = `${name}_1.0-1_all.deb`;
  const out = join(h.work, fileName);
  const built = spawnSync('dpkg-deb', ['--root-owner-group', '--build', root, out], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`dpkg-deb --build failed: ${built.stderr}`);
  return { name, fileName, bytes: readFileSync(out) };
}

/** Creates a complete `debian:binary-package` artifact holding the .deb (presigned single PUT). */
async function uploadBinaryPackage(deb: DebPackage): Promise<number> {
  const created = await h.api('POST', 'artifact/', 'contributor', {
    category: 'debian:binary-package',
    workspace: WORKSPACE,
    data: {
      srcpkg_name: deb.name,
      srcpkg_version: '1.0-1',
      deb_fields: { Package: deb.name, Version: '1.0-1', Architecture: 'all' },
      deb_control_files: ['control'],
    },
    files: { [deb.fileName]: { type: 'file', size: deb.bytes.length, checksums: { sha256: sha256(deb.bytes) } } },
  });
  expectStatus(created, 201);
  const id = created.json.id as number;
  if ((created.json.files_to_upload as string[]).includes(deb.fileName)) {
    const plan = await h.api('POST', `artifact/${id}/upload/${encodeURIComponent(deb.fileName)}/`, 'contributor', {});
    expectStatus(plan, 200);
    expect(plan.json).toMatchObject({ complete: false, method: 'single' });
    const put = await fetch(plan.json.url as string, {
      method: 'PUT',
      headers: plan.json.headers as Record<string, string>,
      body: new Uint8Array(deb.bytes),
      signal: AbortSignal.timeout(60_000),
    });
    await put.arrayBuffer();
    expect(put.status).toBe(200);
    const done = await h.api('POST', `artifact/${id}/upload-complete/${encodeURIComponent(deb.fileName)}/`, 'contributor', {});
    expect([201, 202]).toContain(done.status);
  }
  await waitFor(
    `artifact ${id} to be complete`,
    async () => (await h.api('GET', `artifact/${id}/`, 'contributor')).json,
    (a: any) => a?.complete === true,
    { timeoutMs: 60_000 },
  );
  return id;
}

async function runLintian(binaryArtifact: number, failOnSeverity: string): Promise<any> {
  const res = await h.api('POST', 'work-request/', 'contributor', {
    task_name: 'lintian',
    workspace: WORKSPACE,
    task_data: { input: { binary_artifacts: [binaryArtifact] }, fail_on_severity: failOnSeverity },
  });
  expectStatus(res, 200);
  return h.waitForFinished(res.json.id as number, 180_000);
}

/** The outcome, with the errors and worker log when it is not the expected one. */
function expectOutcome(wr: any, status: string, result: string): void {
  if (wr.status !== status || wr.result !== result) {
    throw new Error(
      `work request ${wr.id}: expected ${status}/${result}, got ${wr.status}/${wr.result}; output_data: ${JSON.stringify(wr.output_data)}\n${diagnostics()}`,
    );
  }
}

async function lintianArtifactOf(wr: any): Promise<any> {
  const artifacts = [];
  for (const id of wr.artifacts as number[]) artifacts.push(await h.getJson(`artifact/${id}/`));
  const lintian = artifacts.filter((a) => a.category === 'debian:lintian');
  expect(lintian).toHaveLength(1);
  return lintian[0];
}

async function expectBuiltUsing(artifact: number, input: number): Promise<void> {
  expect(await h.getJson(`artifact-relation/?artifact=${artifact}`)).toEqual(expect.arrayContaining([expect.objectContaining({ artifact, target: input, type: 'built-using' })]));
}

/** The report file's bytes, through the presigned download URL. */
async function downloadReport(artifact: number): Promise<string> {
  const res = await h.api('GET', `artifact/${artifact}/files/lintian.txt/`, 'contributor');
  expectStatus(res, 302);
  const got = await fetch(res.headers['location']!, { signal: AbortSignal.timeout(60_000) });
  expect(got.status).toBe(200);
  return got.text();
}

// ------------------------------------------------------------------------------------ tests

/** Tags lintian (2.116, Debian 12) reports for the documented package: warnings and infos, no errors. */
const DOCUMENTED_PACKAGE_TAGS = ['empty-binary-package', 'recommended-field', 'initial-upload-closes-no-bugs', 'extended-description-is-probably-too-short', 'no-md5sums-control-file'];

describe('lintian on a real worker', () => {
  it('the worker reports lintian as available', async () => {
    expect((await h.getJson(`worker/${worker!.name}/`)).metadata).toMatchObject({ 'lintian:available': true });
  });

  /*
   * KNOWN PRODUCT BUG (fails today): shared/app/relations.ts, createRelation starts with
   * `requireUser(caller)`, so POST artifact-relation/ with a worker token answers 403 "this endpoint
   * needs a user token, not a worker token". docs/api.md ("Artifacts created by workers") says the
   * worker may relate its output to the request's inputs, and cli/worker/task-context.ts
   * uploadArtifact does exactly that after every upload: every lintian request (any task with input
   * artifacts that uploads an output) ends completed/error, `execute-failed: 403 Permission denied`,
   * leaving an orphan debian:lintian artifact. The unit tier misses it (worker-task-runner.test.ts
   * fakes the HTTP answers). Fix: let a worker caller relate an artifact created by a request
   * running on it (created_by work-request:<id>) to that request's input artifacts.
   */
  it('checks a package with warnings: tags in a debian:lintian artifact built-using the input; fail_on_severity decides the result', async () => {
    const deb = buildDeb('conveyor-e2e-documented', { documented: true });
    const input = await uploadBinaryPackage(deb);

    const lenient = await runLintian(input, 'none');
    expectOutcome(lenient, 'completed', 'success');
    expect(lenient.worker_name).toBe(worker!.name);
    const report = await lintianArtifactOf(lenient);
    expect(report).toMatchObject({ created_by: `work-request:${lenient.id}`, workspace: WORKSPACE });
    const { summary, tags } = report.data;
    expect(summary.tags_count_by_severity).toEqual(expect.objectContaining({ error: 0, warning: expect.any(Number), info: expect.any(Number) }));
    expect(tags.length).toBeGreaterThan(0);
    for (const tag of tags) expect(tag).toMatchObject({ package: deb.name, severity: expect.any(String), tag: expect.any(String) });
    // The tags lintian emits for such a minimal package (at least one of them, whatever the version).
    expect(summary.tags_found).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^(${DOCUMENTED_PACKAGE_TAGS.join('|')})$`))]));
    expect(summary.tags_count_by_severity.warning).toBeGreaterThan(0);
    await expectBuiltUsing(report.id, input);
    const text = await downloadReport(report.id);
    for (const tag of summary.tags_found as string[]) expect(text).toContain(tag);

    // Warnings fail a request that fails on warnings, not one that fails on errors only.
    const strict = await runLintian(input, 'warning');
    expectOutcome(strict, 'completed', 'failure');
    expect((await lintianArtifactOf(strict)).data.summary.tags_found).toEqual(summary.tags_found);
    const errorsOnly = await runLintian(input, 'error');
    expectOutcome(errorsOnly, 'completed', 'success');
  });

  /*
   * KNOWN PRODUCT BUG (fails today): shared/tasks/lintian.ts, lintianTask.execute, the check
   *   `if (exitCode !== 0 && exitCode !== 1) throw new Error(`lintian exited with ${exitCode} ...`)`
   * assumes lintian exits 1 when it found tags. Current lintian (2.116, Debian 12; since --fail-on
   * exists) exits 2 when tags at its --fail-on level are found (default: error) and 1 on a run-time
   * error. So any package with an error-level tag makes the task end completed/error with
   * `execute-failed: lintian exited with 2`, whatever fail_on_severity says, and no debian:lintian
   * artifact is made. Reproduce: `lintian x.deb; echo $?` on a .deb without a copyright file → 2.
   * Fix (in the task): pass `--fail-on none` (then only 0 is success) or treat 2 as "tags found".
   */
  it('checks a package with error-level tags (no copyright file, no changelog)', async () => {
    const deb = buildDeb('conveyor-e2e-bare', { documented: false });
    const input = await uploadBinaryPackage(deb);

    const lenient = await runLintian(input, 'none');
    expectOutcome(lenient, 'completed', 'success');
    const report = await lintianArtifactOf(lenient);
    expect(report.data.summary.tags_count_by_severity.error).toBeGreaterThan(0);
    expect(report.data.summary.tags_found).toEqual(expect.arrayContaining(['no-copyright-file']));
    await expectBuiltUsing(report.id, input);

    const strict = await runLintian(input, 'error');
    expectOutcome(strict, 'completed', 'failure');
  });
});
