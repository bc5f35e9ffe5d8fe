/**
 * `conveyor admin expire`: one expiry pass against the database (what the scheduled `expiry`
 * function runs). `--dry-run` writes nothing and lists what would go and why each expired artifact
 * looked at is kept (which root keeps it). `--backfill` gives items written before expiry existed
 * their index entries (once per installation). Registered by registerAdminCommands.
 */
import type { Command } from 'commander';
import { runExpiryPass, type ExpiryReport } from '../../shared/app/expiry';
import { formatTable } from '../client/format';
import type { AdminRun } from './workers';

export function expiryReportText(report: ExpiryReport): string {
  if (report.notReady) return 'Nothing done: this table predates expiry. Run `conveyor admin expire --backfill` once first.\n';
  const verb = report.dryRun ? 'would be' : 'were';
  const lines: string[] = [];
  const ids = (list: number[]) => (list.length ? list.join(', ') : '-');
  lines.push(`Expiry pass at ${report.now}${report.dryRun ? ' (dry run: nothing changed)' : ''}`);
  lines.push(`Deleted (${verb} deleted now, condemned by an earlier pass): ${ids(report.deleted)}`);
  lines.push(`Condemned (${verb} condemned now, deleted by the next pass unless something keeps them): ${ids(report.condemned)}`);
  if (report.reprieved.length) lines.push(`Reprieved (${verb} kept again): ${ids(report.reprieved)}`);
  if (report.waiting.length) lines.push(`Waiting (condemned, but something relating to them is not condemned yet): ${ids(report.waiting)}`);
  const blobs = report.blobs;
  lines.push(`Stored bytes: ${blobs.deleted.length} ${verb} deleted, ${blobs.condemned.length} condemned, ${blobs.rescued.length} rescued`);
  const items = report.items;
  const itemIds = (list: { collection: number; item: number }[]) => (list.length ? list.map((i) => `${i.collection}/${i.item}`).join(', ') : '-');
  lines.push(`Removed collection items (collection/item) that ${verb} reduced to metadata: ${itemIds(items.linkDropped)}`);
  lines.push(`Removed collection items (collection/item) that ${verb} deleted: ${itemIds(items.deleted)}`);
  const tokens = report.tokens.deleted;
  lines.push(`Tokens past their expiry date that ${verb} deleted: ${tokens.length ? tokens.map((t) => `${t.id} (${t.purpose}, expired ${t.expire_at})`).join(', ') : '-'}`);
  const requests = report.workRequests;
  lines.push(`Work requests (root: ids) that ${verb} deleted: ${requests.deleted.length ? workRequestsByRoot(requests.deleted) : '-'}`);
  if (requests.collections.length) lines.push(`Internal collections that ${verb} deleted with their workflow: ${ids(requests.collections)}`);
  const workspaces = report.workspaces;
  lines.push(`Workspaces past their expiration delay that ${verb} deleted: ${workspaces.deleted.length ? workspaces.deleted.map((w) => `${w.scope}/${w.workspace}`).join(', ') : '-'}`);
  let text = lines.join('\n') + '\n';
  if (report.kept.length) {
    text += `\nExpired but kept:\n` + formatTable(['ARTIFACT', 'KEPT BECAUSE'], report.kept.map((k) => [String(k.id), k.why]));
  }
  if (items.kept.length) {
    text += `\nRemoved collection items kept as they are:\n` + formatTable(['COLLECTION', 'ITEM', 'NAME', 'KEPT BECAUSE'], items.kept.map((k) => [String(k.collection), String(k.item), k.name, k.why]));
  }
  if (requests.kept.length) {
    text += `\nFinished work requests kept (whole trees):\n` + formatTable(['ROOT', 'REQUESTS', 'KEPT BECAUSE'], requests.kept.map((k) => [String(k.root), String(k.requests), k.why]));
  }
  if (workspaces.contents.length) {
    const list = (values: (number | string)[]) => (values.length ? values.join(', ') : '-');
    text +=
      `\nContents of workspaces past their expiration delay that ${verb} deleted (artifacts: deleted; condemned: deleted by a later pass):\n` +
      formatTable(
        ['WORKSPACE', 'WORK REQUESTS', 'ARTIFACTS', 'CONDEMNED', 'COLLECTIONS', 'TEMPLATES', 'RECURRING JOBS', 'USAGE RECORDS'],
        workspaces.contents.map((c) => [`${c.scope}/${c.workspace}`, list(c.workRequests), list(c.artifacts), list(c.condemnedArtifacts), list(c.collections), list(c.workflowTemplates), list(c.recurringJobs), c.usageRecords ? 'yes' : '-']),
      );
  }
  if (workspaces.waiting.length) {
    text += `\nWorkspaces past their expiration delay, not deleted:\n` + formatTable(['WORKSPACE', 'WHY'], workspaces.waiting.map((w) => [`${w.scope}/${w.workspace}`, w.why]));
  }
  if (!report.finished) text += '\n(more to do: the next pass continues)\n';
  return text;
}

export function registerAdminExpireCommand(admin: Command, run: AdminRun): void {
  admin
    .command('expire')
    .description('run one expiry pass: delete expired work requests and artifacts nothing keeps, and stored bytes no file needs')
    .option('--dry-run', 'change nothing: list what would go and why each expired artifact is kept')
    .option('--max <n>', 'most expired artifacts to look at', '500')
    .option('--backfill', 'once, on a table written before expiry existed: add the expiry index entries')
    .action(
      run<{ dryRun?: boolean; max: string; backfill?: boolean }>(async ({ deps, options, print }) => {
        // Loaded on demand, like the deps: the DynamoDB adapters (and the AWS SDK) are no part of the other commands' start-up.
        const { backfillExpiryIndexes, expiryStoreFor } = await import('../../shared/adapters/expiry');
        if (options.backfill) {
          const counts = await backfillExpiryIndexes(deps);
          print(counts, () => `Backfilled expiry indexes: ${counts.artifacts} artifacts, ${counts.files} file rows, ${counts.items} collection items\n`);
          return;
        }
        const max = Number(options.max);
        if (!Number.isInteger(max) || max <= 0) throw new Error(`--max must be a positive whole number, not ${JSON.stringify(options.max)}`);
        const report = await runExpiryPass(deps, expiryStoreFor(deps), { dryRun: Boolean(options.dryRun), maxArtifacts: max });
        print(report, () => expiryReportText(report));
      }),
    );
}

/** `5: 7, 6, 5; 9: 9`: the deleted requests grouped by their tree's root. */
function workRequestsByRoot(deleted: { id: number; root: number }[]): string {
  const byRoot = new Map<number, number[]>();
  for (const d of deleted) byRoot.set(d.root, [...(byRoot.get(d.root) ?? []), d.id]);
  return [...byRoot].map(([root, list]) => `${root}: ${list.join(', ')}`).join('; ');
}
