import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { MAX_LOOKUPS_PER_LIST, MAX_TAGS_PER_LIST, tooMany } from '../domain/limits';
import { toolTask, type TaskContext, type TaskDefinition, type TaskOutcome } from './types';

/** Strongest first; `fail_on_severity` fails the task on a tag at that level or stronger. */
export const LINTIAN_SEVERITIES = ['error', 'warning', 'info', 'pedantic', 'experimental', 'overridden'] as const;
export type LintianSeverity = (typeof LINTIAN_SEVERITIES)[number];

const CODES: Record<string, LintianSeverity> = { E: 'error', W: 'warning', I: 'info', P: 'pedantic', X: 'experimental', O: 'overridden' };

export interface LintianTag {
  severity: LintianSeverity;
  package: string;
  tag: string;
  note: string;
}

/** Parses lintian's default output (`E: hello: tag-name extra words`); other lines are ignored. */
export function parseLintianOutput(text: string): LintianTag[] {
  const tags: LintianTag[] = [];
  for (const line of text.split('\n')) {
    const m = /^([EWIPXO]): ([^:\s]+)(?: [^:]+)?: (\S+)(?: (.*))?$/.exec(line.trim());
    if (!m) continue;
    tags.push({ severity: CODES[m[1]!]!, package: m[2]!, tag: m[3]!, note: m[4] ?? '' });
  }
  return tags;
}

export function lintianResult(tags: LintianTag[], failOn: LintianSeverity | 'none'): 'success' | 'failure' {
  if (failOn === 'none') return 'success';
  const threshold = LINTIAN_SEVERITIES.indexOf(failOn);
  return tags.some((t) => LINTIAN_SEVERITIES.indexOf(t.severity) <= threshold) ? 'failure' : 'success';
}

const schema = z
  .strictObject({
    // Lookups: artifact ids, or strings such as `internal@collections/name:build-amd64`.
    input: z.strictObject({
      source_artifact: z.union([z.number().int().positive(), z.string().min(1)]).optional(),
      binary_artifacts: z
        .array(z.union([z.number().int().positive(), z.string().min(1), z.record(z.string(), z.unknown())]))
        .max(MAX_LOOKUPS_PER_LIST, tooMany('MAX_LOOKUPS_PER_LIST', MAX_LOOKUPS_PER_LIST, 'lookups'))
        .default([]),
    }),
    output: z
      .strictObject({
        source_analysis: z.boolean().default(true),
        binary_all_analysis: z.boolean().default(true),
        binary_any_analysis: z.boolean().default(true),
      })
      .default({ source_analysis: true, binary_all_analysis: true, binary_any_analysis: true }),
    target_distribution: z.string().default('debian:unstable'),
    include_tags: z.array(z.string()).max(MAX_TAGS_PER_LIST, tooMany('MAX_TAGS_PER_LIST', MAX_TAGS_PER_LIST, 'tags')).default([]),
    exclude_tags: z.array(z.string()).max(MAX_TAGS_PER_LIST, tooMany('MAX_TAGS_PER_LIST', MAX_TAGS_PER_LIST, 'tags')).default([]),
    fail_on_severity: z.enum([...LINTIAN_SEVERITIES, 'none']).default('error'),
    host_architecture: z.string().optional(),
  })
  .refine((d) => d.input.source_artifact !== undefined || d.input.binary_artifacts.length > 0, {
    message: 'give input.source_artifact or at least one of input.binary_artifacts',
    path: ['input'],
  });

export type LintianData = z.output<typeof schema>;

/**
 * Runs Debian's `lintian` on a debian:source-package (its .dsc) and/or debian:binary-package
 * artifacts (their .deb files) and records the tags in a `debian:lintian` artifact.
 */
export const lintianTask: TaskDefinition<LintianData> = {
  ...toolTask('lintian', schema),
  hostArchitecture: (d) => d.host_architecture,
  async computeDynamicData(d, resolve) {
    return {
      input_source_artifact_id: d.input.source_artifact === undefined ? null : ((await resolve(d.input.source_artifact))[0] ?? null),
      input_binary_artifacts_ids: (await Promise.all(d.input.binary_artifacts.map((l) => resolve(l)))).flat(),
    };
  },
  inputArtifacts: (d, dynamic) => {
    const source = dynamic['input_source_artifact_id'] ?? (typeof d.input.source_artifact === 'number' ? d.input.source_artifact : null);
    const binaries = Array.isArray(dynamic['input_binary_artifacts_ids'])
      ? (dynamic['input_binary_artifacts_ids'] as number[])
      : d.input.binary_artifacts.filter((b): b is number => typeof b === 'number');
    return [...(typeof source === 'number' ? [source] : []), ...binaries];
  },
};

/**
 * Runs the task on a worker. Apart from the definition (the worker attaches it, shared/tasks/executors.ts)
 * so that the functions, which only validate and schedule tasks, do not bundle it.
 */
export async function executeLintian(data: LintianData, ctx: TaskContext): Promise<TaskOutcome> {
  const targets: string[] = [];
  const inputs = lintianTask.inputArtifacts!(data, ctx.dynamicData);
  for (const id of inputs) {
    const dir = join(ctx.workDir, `artifact-${id}`);
    const artifact = await ctx.downloadArtifact(id, dir);
    if (artifact.category === 'debian:source-package') {
      if (!data.output.source_analysis) continue;
      const dsc = artifact.files.find((f) => f.path.endsWith('.dsc'));
      if (!dsc) throw new Error(`artifact ${id} (debian:source-package) has no .dsc file`);
      targets.push(dsc.localPath);
    } else if (artifact.category === 'debian:binary-package' || artifact.category === 'debian:binary-packages') {
      for (const deb of artifact.files.filter((f) => /\.u?deb$/.test(f.path))) {
        const isAll = /_all\.u?deb$/.test(deb.path);
        if ((isAll && data.output.binary_all_analysis) || (!isAll && data.output.binary_any_analysis)) targets.push(deb.localPath);
      }
    } else {
      throw new Error(`artifact ${id} is a ${artifact.category}; lintian needs debian:source-package or debian:binary-package`);
    }
  }
  // `--fail-on none`: lintian's exit code then only says whether it ran (0) or not; the result
  // comes from the tags and fail_on_severity.
  const args = ['--fail-on', 'none', '--display-level', '>=pedantic', '--display-experimental', '--show-overrides'];
  if (data.include_tags.length) args.push('--tags', data.include_tags.join(','));
  if (data.exclude_tags.length) args.push('--suppress-tags', data.exclude_tags.join(','));
  const report: string[] = [];
  const tags: LintianTag[] = [];
  for (const target of targets) {
    ctx.log(`lintian ${target}`);
    const { exitCode, stdout } = await ctx.run('lintian', [...args, target], { cwd: ctx.workDir });
    if (exitCode !== 0) throw new Error(`lintian exited with ${exitCode} on ${target}`);
    report.push(stdout);
    tags.push(...parseLintianOutput(stdout));
  }
  const countBySeverity = Object.fromEntries(LINTIAN_SEVERITIES.map((s) => [s, tags.filter((t) => t.severity === s).length]));
  const reportPath = join(ctx.workDir, 'lintian.txt');
  await writeFile(reportPath, report.join(''));
  const artifactId = await ctx.uploadArtifact({
    category: 'debian:lintian',
    data: {
      summary: { tags_count_by_severity: countBySeverity, tags_found: [...new Set(tags.map((t) => t.tag))].sort() },
      tags,
      target_distribution: data.target_distribution,
    },
    files: [{ path: 'lintian.txt', localPath: reportPath }],
  });
  const result = lintianResult(tags, data.fail_on_severity);
  ctx.log(`lintian: ${tags.length} tag(s), result ${result}, artifact ${artifactId}`);
  return { result };
}
