import * as z from 'zod';
import { MAX_WORKFLOW_ARCHITECTURES, tooMany } from '../domain/limits';
import { LINTIAN_SEVERITIES } from '../tasks/lintian';
import type { WorkflowDefinition } from './types';
import { lookupResultArchitecture } from './utils';

const schema = z.strictObject({
  package: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name'),
  version: z.string().regex(/^[0-9][A-Za-z0-9.+~:-]*$/, 'must be a Debian version'),
  architectures: z
    .array(z.string().regex(/^[a-z0-9-]+$/))
    .min(1)
    .max(MAX_WORKFLOW_ARCHITECTURES, tooMany('MAX_WORKFLOW_ARCHITECTURES', MAX_WORKFLOW_ARCHITECTURES, 'architectures')),
  fail_on_severity: z.enum([...LINTIAN_SEVERITIES, 'none']).default('error'),
  /** Prefix of the item names in the internal collection (Debusine uses `|` by convention). */
  prefix: z.string().max(50).default(''),
});

export type BuildAndLintData = z.output<typeof schema>;

/**
 * A fan-out over architectures with promises between two stages: for each architecture a
 * `mkdeb` build promises a `debian:binary-package`, and a `lintian` check requires it through
 * the internal collection; a synchronization point gathers the checks and a final callback
 * summarises them.
 */
export const buildAndLintWorkflow: WorkflowDefinition<BuildAndLintData> = {
  name: 'build-and-lint',
  schema,
  async populate(ctx, data) {
    const lints = [];
    for (const arch of [...new Set(data.architectures)].sort()) {
      const build = await ctx.ensureChild({
        taskName: 'mkdeb',
        taskData: { package: data.package, version: data.version, architecture: arch },
        workflowData: { display_name: `build ${arch}`, step: `build-${arch}` },
      });
      const buildName = `${data.prefix}build-${arch}`;
      await ctx.providesArtifact(build, 'debian:binary-package', buildName, { architecture: arch });
      const lookup = `internal@collections/name:${buildName}`;
      let lint = await ctx.ensureChild({
        taskName: 'lintian',
        taskData: { input: { binary_artifacts: [lookup] }, fail_on_severity: data.fail_on_severity },
        workflowData: { display_name: `lintian ${arch}`, step: `lintian-${arch}` },
      });
      lint = await ctx.requiresArtifact(lint, lookup);
      await ctx.providesArtifact(lint, 'debian:lintian', `${data.prefix}lintian-${arch}`, { architecture: arch });
      lints.push(lint);
    }
    let sync = await ctx.ensureChild({
      taskType: 'Internal',
      taskName: 'synchronization_point',
      taskData: {},
      workflowData: { display_name: 'all checks done', step: 'checks-done' },
    });
    for (const lint of lints) sync = await ctx.addDependency(sync, lint);
    await ctx.ensureCallback('summarise', [sync]);
  },
  callbacks: {
    async summarise(ctx, data) {
      const architectures: Record<string, unknown> = {};
      const children = await ctx.children();
      for (const result of await ctx.lookupArtifacts({ collection: 'internal@collections', category: 'debian:lintian', name__startswith: `${data.prefix}lintian-` })) {
        const artifact = result.artifact !== null ? await ctx.artifact(result.artifact) : undefined;
        const arch = lookupResultArchitecture(result, artifact);
        const check = children.find((c) => c.workflowData.step === `lintian-${arch}` && c.supersededBy === null);
        const summary = (artifact?.data['summary'] ?? {}) as Record<string, unknown>;
        architectures[arch] = {
          lintian_artifact: result.artifact,
          result: check?.result ?? null,
          tags_count_by_severity: summary['tags_count_by_severity'] ?? null,
        };
      }
      await ctx.recordOutput({ summary: { package: data.package, version: data.version, architectures } });
    },
  },
};
