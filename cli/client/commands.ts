/**
 * Client commands: `conveyor artifact ...` and `conveyor whoami`, talking to the REST API
 * (docs/api.md). Connection options (--server, --token, --scope) and --json are accepted
 * on the `artifact` group, before or after the subcommand.
 */
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { RELATION_TYPES, type RelationType } from '../../shared/domain/artifacts';
import { ApiError, type ConveyorApi } from './api';
import { defaultClientContext, type ClientContext } from './context';
import { downloadArtifactFiles, downloadArtifactTarball } from './download';
import { collectLocalFiles, hashFiles, type HashedFile } from './files';
import { formatBytes, formatTable, yesNo } from './format';
import { addConnectionOptions, addLimitOptions, collectPages, commandHelpers, listLimit, listText, parseId, readJsonDataOption, addDataOptions, type GlobalOptions } from './options';
import { createProgressReporter, silentProgress, type ProgressReporter } from './progress';
import { ResumeStateStore, resumeKey, resumeStateDir, type CreateIdentity } from './resume-state';
import { uploadFiles, type UploadSummary, type UploadTuning } from './upload';
import type { WireArtifact, WireArtifactSummary, WireRelation } from './wire';
import { registerWorkRequestCommands } from './work-requests';
import { registerWorkflowCommands } from './workflows';
import { registerAccountCommands } from './accounts';
import { registerRecurringJobCommands } from './recurring-jobs';

/** Everything the commands take from the process, so tests can run them in-process. */

/** Seconds, or a Django duration "D HH:MM:SS" that the server parses itself. */
function parseExpirationDelay(value: string): number | string {
  if (/^\d+$/.test(value)) return Number(value);
  if (/^(?:\d+ )?\d{1,2}:\d{2}:\d{2}$/.test(value.trim())) return value.trim();
  throw new Error(`Invalid --expiration-delay "${value}": expected seconds or "D HH:MM:SS"`);
}

function sortedPaths(artifact: WireArtifact): string[] {
  return Object.keys(artifact.files).sort();
}

export function describeArtifact(artifact: WireArtifact): string {
  const paths = sortedPaths(artifact);
  const toUpload = paths.filter((p) => !artifact.files[p]?.complete).length;
  const fields: [string, string][] = [
    ['workspace', `${artifact.scope}/${artifact.workspace}`],
    ['created', `${artifact.created_at} by ${artifact.created_by}`],
    ['updated', artifact.updated_at],
    ['expires', artifact.expire_at ?? 'never'],
    ['immutable', yesNo(artifact.immutable)],
    ['complete', artifact.complete ? 'yes' : `no (${toUpload} file(s) to upload)`],
    ['data', JSON.stringify(artifact.data, null, 2)],
  ];
  const labelWidth = Math.max(...fields.map(([label]) => label.length)) + 2;
  const lines = [`Artifact ${artifact.id}  ${artifact.category}`];
  for (const [label, value] of fields) {
    // Multi-line values (the data) stay aligned under their first line.
    lines.push(`  ${label.padEnd(labelWidth)}${value.split('\n').join(`\n  ${' '.repeat(labelWidth)}`)}`);
  }
  if (paths.length === 0) {
    lines.push('No files.');
  } else {
    lines.push(`Files (${paths.length}):`);
    lines.push(
      formatTable(
        ['PATH', 'SIZE', 'SHA256', 'STATUS'],
        paths.map((path) => {
          const file = artifact.files[path]!;
          return [path, formatBytes(file.size), file.checksums.sha256, file.complete ? 'complete' : 'to upload'];
        }),
      ).trimEnd(),
    );
  }
  return lines.join('\n') + '\n';
}

function describeRelations(relations: WireRelation[]): string {
  if (relations.length === 0) return 'No relations.\n';
  return formatTable(
    ['ID', 'ARTIFACT', 'TYPE', 'TARGET'],
    relations.map((r) => [String(r.id), String(r.artifact), r.type, String(r.target)]),
  );
}

/** The local files that must match the artifact's declared files before any byte is sent. */
function checkLocalFilesAgainstArtifact(artifact: WireArtifact, local: HashedFile[]): void {
  for (const file of local) {
    const remote = artifact.files[file.path];
    if (!remote) {
      throw new Error(`${file.localPath} would be "${file.path}", which is not a file of artifact ${artifact.id} (its files: ${sortedPaths(artifact).join(', ') || 'none'})`);
    }
    if (remote.size !== file.size || remote.checksums.sha256 !== file.sha256) {
      throw new Error(
        `${file.localPath} does not match "${file.path}" of artifact ${artifact.id}: ` +
          `local ${file.size} bytes ${file.sha256}, artifact ${remote.size} bytes ${remote.checksums.sha256}`,
      );
    }
  }
}

interface PendingUploadResult {
  summary: UploadSummary;
  /** Files the artifact still waits for that were not given on the command line. */
  notGiven: string[];
}

async function uploadWhatIsPending(
  api: ConveyorApi,
  artifact: WireArtifact,
  local: HashedFile[],
  progress: ProgressReporter,
  tuning: UploadTuning,
): Promise<PendingUploadResult> {
  checkLocalFilesAgainstArtifact(artifact, local);
  const byPath = new Map(local.map((f) => [f.path, f]));
  const toUpload = artifact.files_to_upload.flatMap((path) => {
    const file = byPath.get(path);
    return file ? [file] : [];
  });
  const notGiven = artifact.files_to_upload.filter((path) => !byPath.has(path));
  const summary = await uploadFiles(api, artifact.id, toUpload, progress, tuning);
  return { summary, notGiven };
}

export function registerClientCommands(program: Command, ctx: ClientContext = defaultClientContext()): void {
  const { connect, connected, print, idCommand, deleteCommand } = commandHelpers(ctx);
  const progressFor = (opts: GlobalOptions): ProgressReporter => (opts.json ? silentProgress : createProgressReporter(ctx.stderr));

  const artifact = addConnectionOptions(program.command('artifact').description('create, upload, show, download and relate artifacts'));

  addDataOptions(
    artifact
      .command('create')
      .description('create an artifact and upload its files (re-running the same command resumes an interrupted upload)')
      .argument('[files...]', 'files or directories; their paths in the artifact are the paths as given')
      .option('--workspace <name>', 'workspace (default: the server default, "System")')
      .requiredOption('--category <category>', 'artifact category, e.g. debian:source-package'),
    'artifact data',
  )
    .option('--immutable', 'make the artifact immutable')
    .option('--expiration-delay <seconds>', 'expire the artifact after this many seconds ("D HH:MM:SS" also accepted; 0 keeps it forever)')
    .option('--base-dir <dir>', 'store files relative to this directory')
    .action(async (files: string[], cmdOpts: { workspace?: string; category: string; data?: string; dataFile?: string; immutable?: boolean; expirationDelay?: string; baseDir?: string }, cmd: Command) => {
      const { api, opts, config } = connect(cmd);
      const cwd = ctx.cwd();
      const data = readJsonDataOption(cmdOpts, cwd) ?? {};
      const expirationDelay = cmdOpts.expirationDelay !== undefined ? parseExpirationDelay(cmdOpts.expirationDelay) : undefined;
      const local = await hashFiles(await collectLocalFiles(files, { cwd, baseDir: cmdOpts.baseDir }));

      const identity: CreateIdentity = {
        server: config.server,
        scope: config.scope,
        workspace: cmdOpts.workspace,
        category: cmdOpts.category,
        data,
        immutable: Boolean(cmdOpts.immutable),
        expirationDelay,
        files: local,
      };
      const store = new ResumeStateStore(resumeStateDir(ctx.env, ctx.homeDir));
      const key = resumeKey(identity);

      let created = await findResumableArtifact(api, store, key, local);
      const resumed = created !== undefined;
      if (!created) {
        created = await api.createArtifact({
          category: cmdOpts.category,
          ...(cmdOpts.workspace ? { workspace: cmdOpts.workspace } : {}),
          files: Object.fromEntries(local.map((f) => [f.path, { type: 'file' as const, size: f.size, checksums: { sha256: f.sha256 } }])),
          data,
          ...(expirationDelay !== undefined ? { expiration_delay: expirationDelay } : {}),
          ...(cmdOpts.immutable ? { immutable: true } : {}),
        });
        // Recorded before any byte is sent, so an interrupted run can be resumed.
        if (!created.complete) await store.save(key, { artifactId: created.id, server: config.server, createdAt: new Date().toISOString() });
      }
      if (!opts.json) ctx.stderr.write(`${resumed ? 'Resuming' : 'Created'} artifact ${created.id}\n`);

      const { summary } = await uploadWhatIsPending(api, created, local, progressFor(opts), ctx.uploadTuning);
      const final = await api.getArtifact(created.id);
      if (final.complete) await store.remove(key);
      print(opts, final, () => {
        const stored = local.length - summary.uploaded.length;
        return `Artifact ${final.id} ${final.complete ? 'complete' : 'incomplete'}: ${local.length} file(s), ${summary.uploaded.length} uploaded, ${stored} already on the server\n`;
      });
    });

  artifact
    .command('upload')
    .description('upload the missing files of an existing artifact (resumes interrupted uploads)')
    .argument('<id>', 'artifact id')
    .argument('<files...>', 'files or directories, named as when the artifact was created')
    .option('--base-dir <dir>', 'store files relative to this directory')
    .action(async (idText: string, files: string[], cmdOpts: { baseDir?: string }, cmd: Command) => {
      const { api, opts, config } = connect(cmd);
      const id = parseId(idText, 'artifact id');
      const local = await hashFiles(await collectLocalFiles(files, { cwd: ctx.cwd(), baseDir: cmdOpts.baseDir }));
      const existing = await api.getArtifact(id);
      const { summary, notGiven } = await uploadWhatIsPending(api, existing, local, progressFor(opts), ctx.uploadTuning);
      const final = await api.getArtifact(id);
      if (final.complete) await new ResumeStateStore(resumeStateDir(ctx.env, ctx.homeDir)).removeArtifact(config.server, id);
      print(opts, final, () => `Artifact ${id} ${final.complete ? 'complete' : 'incomplete'}: ${summary.uploaded.length} file(s) uploaded\n`);
      if (notGiven.length > 0 && !final.complete) {
        throw new Error(`Artifact ${id} still waits for ${notGiven.join(', ')}: give those files too`);
      }
    });

  idCommand(artifact, { name: 'show', description: 'show an artifact and its files', what: 'artifact id' }, (api, id) => api.getArtifact(id), describeArtifact);

  artifact
    .command('download')
    .description("download an artifact's files, checking each one's SHA-256")
    .argument('<id>', 'artifact id')
    .option('--target-dir <dir>', 'directory to write into', '.')
    .option('--tar', 'download one tar.gz of every file instead (artifact-<id>.tar.gz)')
    .action(async (idText: string, cmdOpts: { targetDir: string; tar?: boolean }, cmd: Command) => {
      const { api, opts } = connect(cmd);
      const shown = await api.getArtifact(parseId(idText, 'artifact id'));
      const targetDir = resolve(ctx.cwd(), cmdOpts.targetDir);
      const written = cmdOpts.tar
        ? [await downloadArtifactTarball(api, shown, targetDir, progressFor(opts))]
        : await downloadArtifactFiles(api, shown, targetDir, progressFor(opts));
      print(opts, { artifact: shown.id, files: written }, () => `Downloaded ${written.length} file(s) of artifact ${shown.id} to ${targetDir}\n`);
    });

  artifact
    .command('relate')
    .description('relate ARTIFACT to TARGET')
    .argument('<artifact>', 'artifact id')
    .argument('<target>', 'target artifact id')
    .addOption(new Option('--type <type>', 'relation type').choices([...RELATION_TYPES]).default('relates-to'))
    .action(async (artifactText: string, targetText: string, cmdOpts: { type: RelationType }, cmd: Command) => {
      const { api, opts } = connect(cmd);
      const { relation, created } = await api.createRelation(parseId(artifactText, 'artifact id'), parseId(targetText, 'target id'), cmdOpts.type);
      print(opts, relation, () => `${created ? 'Created' : 'Existing'} relation ${relation.id}: ${relation.artifact} ${relation.type} ${relation.target}\n`);
    });

  artifact
    .command('relations')
    .description('list the relations of an artifact')
    .argument('<id>', 'artifact id')
    .option('--reverse', 'relations that point TO this artifact')
    .action(connected(async ({ api, opts }, idText: string, cmdOpts: { reverse?: boolean }) => {
      const id = parseId(idText, 'artifact id');
      const relations = await api.listRelations(cmdOpts.reverse ? { target: id } : { artifact: id });
      print(opts, relations, () => describeRelations(relations));
    }));

  deleteCommand(artifact, { name: 'unrelate', description: 'delete a relation', what: 'relation id', argument: '<relation-id>' }, (api, id) => api.deleteRelation(id), 'relation');

  const artifactList = artifact
    .command('list')
    .description('list artifacts, newest first')
    .option('--workspace <name>', 'workspace (default: the server default, "System")')
    .option('--category <category>', 'only this category')
    .option('--created-by <who>', 'only artifacts created by this user ("alice" or "user:alice")');
  addLimitOptions(artifactList, 'artifact').action(async (cmdOpts: { workspace?: string; category?: string; createdBy?: string; limit: string; all?: boolean }, cmd: Command) => {
    const { api, opts } = connect(cmd);
    const createdBy = cmdOpts.createdBy && !cmdOpts.createdBy.includes(':') ? `user:${cmdOpts.createdBy}` : cmdOpts.createdBy;
    const { results, more } = await collectPages<WireArtifactSummary>(listLimit(cmdOpts), (pageLimit, cursor) =>
      api.listArtifacts({ workspace: cmdOpts.workspace, category: cmdOpts.category, createdBy, limit: pageLimit, cursor }),
    );
    print(opts, results, () =>
      listText(results, more, 'No artifacts.\n', () =>
        formatTable(['ID', 'CATEGORY', 'CREATED', 'CREATED BY', 'COMPLETE'], results.map((a) => [String(a.id), a.category, a.created_at, a.created_by, yesNo(a.complete)])),
      ),
    );
  });

  addDataOptions(artifact.command('set-data').description("replace an artifact's data").argument('<id>', 'artifact id'), 'the new data')
    .action(async (idText: string, cmdOpts: { data?: string; dataFile?: string }, cmd: Command) => {
      const { api, opts } = connect(cmd);
      const data = readJsonDataOption(cmdOpts, ctx.cwd());
      if (!data) throw new Error('Give the new data with --data JSON or --data-file FILE');
      const updated = await api.patchArtifact(parseId(idText, 'artifact id'), { data });
      print(opts, updated, () => `Updated the data of artifact ${updated.id}\n`);
    });

  idCommand(
    artifact,
    { name: 'make-immutable', description: 'make an artifact immutable (no further changes)', what: 'artifact id' },
    (api, id) => api.patchArtifact(id, { immutable: true }),
    (updated) => `Artifact ${updated.id} is now immutable\n`,
  );

  deleteCommand(artifact, { name: 'delete', description: 'delete an artifact, its files and its relations', what: 'artifact id' }, (api, id) => api.deleteArtifact(id), 'artifact');

  artifact
    .command('remove-file')
    .description('remove one file from an artifact')
    .argument('<id>', 'artifact id')
    .argument('<path>', 'file path inside the artifact')
    .action(connected(async ({ api, opts }, idText: string, path: string) => {
      const id = parseId(idText, 'artifact id');
      await api.removeFile(id, path);
      print(opts, { artifact: id, removed: path }, () => `Removed ${path} from artifact ${id}\n`);
    }));

  addConnectionOptions(program.command('whoami').description('show who the server thinks you are')).action(async (_cmdOpts: unknown, cmd: Command) => {
    const { api, opts, config } = connect(cmd);
    const me = await api.whoami();
    print(opts, { ...me, server: config.server }, () => {
      const who = me.user ? `${me.user}${me.is_admin ? ' (admin)' : ''}` : 'anonymous';
      const tokenNote = config.token ? `token from ${config.sources.token}` : 'no token';
      return `${who} on ${config.server} (${tokenNote})\n`;
    });
  });
  registerWorkRequestCommands(program, ctx);
  registerWorkflowCommands(program, ctx);
  registerAccountCommands(program, ctx);
  registerRecurringJobCommands(program, ctx);
}

/** The artifact a previous run of the same create command left incomplete, if it is still there. */
async function findResumableArtifact(api: ConveyorApi, store: ResumeStateStore, key: string, local: HashedFile[]): Promise<WireArtifact | undefined> {
  const record = await store.load(key);
  if (!record) return undefined;
  let previous: WireArtifact;
  try {
    previous = await api.getArtifact(record.artifactId);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      await store.remove(key);
      return undefined;
    }
    throw err;
  }
  const sameFiles =
    Object.keys(previous.files).length === local.length &&
    local.every((f) => previous.files[f.path]?.checksums.sha256 === f.sha256 && previous.files[f.path]?.size === f.size);
  if (previous.complete || !sameFiles) {
    await store.remove(key);
    return undefined;
  }
  return previous;
}
