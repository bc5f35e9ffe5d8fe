import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import { toolTask, type TaskContext, type TaskDefinition, type TaskOutcome } from './types';

const schema = z.strictObject({
  package: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name'),
  version: z.string().regex(/^[0-9][A-Za-z0-9.+~:-]*$/, 'must be a Debian version'),
  architecture: z.string().regex(/^[a-z0-9-]+$/),
  // The control file's synopsis line: one line of text (a newline would add fields to DEBIAN/control,
  // security finding 7), at most 80 characters (lintian's synopsis-too-long).
  description: z
    .string()
    .max(80)
    .regex(/^[^\u0000-\u001f\u007f]*\S[^\u0000-\u001f\u007f]*$/, 'must be one line of text without control characters')
    .default('stand-in package built by Conveyor'),
});

export type MkdebData = z.output<typeof schema>;

/**
 * Conveyor addition, a stand-in for sbuild: builds a minimal Debian binary package for an
 * architecture with `dpkg-deb` (a documentation-only package, so no compiler or chroot is
 * needed) and uploads it as a `debian:binary-package`.
 */
export const mkdebTask: TaskDefinition<MkdebData> = {
  ...toolTask('mkdeb', schema),
};

/**
 * Runs the task on a worker. Apart from the definition (the worker attaches it, shared/tasks/executors.ts)
 * so that the functions, which only validate and schedule tasks, do not bundle it.
 */
export async function executeMkdeb(data: MkdebData, ctx: TaskContext): Promise<TaskOutcome> {
  const root = join(ctx.workDir, 'pkg');
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  const files = debianPackageFiles(data, new Date());
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  const deb = `${data.package}_${data.version.replace(/^\d+:/, '')}_${data.architecture}.deb`;
  const { exitCode } = await ctx.run('dpkg-deb', ['--root-owner-group', '--build', root, join(ctx.workDir, deb)]);
  if (exitCode !== 0) throw new Error(`dpkg-deb exited with ${exitCode}`);
  const id = await ctx.uploadArtifact({
    category: 'debian:binary-package',
    data: {
      srcpkg_name: data.package,
      srcpkg_version: data.version,
      architecture: data.architecture,
      deb_fields: { Package: data.package, Version: data.version, Architecture: data.architecture },
    },
    files: [{ path: deb, localPath: join(ctx.workDir, deb) }],
  });
  ctx.log(`built ${deb} as artifact ${id}`);
  return { result: 'success' };
}

/**
 * Every file of the package, by path under its root: what lintian wants of any binary package (a
 * copyright file, a compressed changelog matching the version, an extended description, md5sums),
 * so that the package is lintian-clean. Two tags are overridden, with the reason, because they are
 * true of any stand-in build: there is no ITP bug to close, and nothing in it is architecture-specific.
 */
export function debianPackageFiles(data: MkdebData, now: Date): Record<string, string | Buffer> {
  // Required here, not at the top: this module's definition is part of every task process and every
  // function that knows the tasks, and only an mkdeb run needs compression and hashing.
  const { gzipSync } = require('node:zlib') as typeof import('node:zlib');
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const name = data.package;
  const doc = `usr/share/doc/${name}`;
  const content: Record<string, string | Buffer> = {
    [`usr/share/${name}/build-info`]: `${name} ${data.version} (${data.architecture})\n`,
    [`${doc}/copyright`]: [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      `Upstream-Name: ${name}`,
      '',
      'Files: *',
      `Copyright: ${now.getUTCFullYear()} Conveyor`,
      'License: MIT',
      ' Permission is hereby granted, free of charge, to any person obtaining a copy of this',
      ' software, to deal in it without restriction.',
      '',
    ].join('\n'),
    [`${doc}/changelog.Debian.gz`]: gzipSync(
      `${name} (${data.version}) unstable; urgency=medium\n\n  * Built by the Conveyor mkdeb task for ${data.architecture}.\n\n` +
        ` -- Conveyor <conveyor@example.org>  ${rfc2822(now)}\n`,
      { level: 9 },
    ),
    [`usr/share/lintian/overrides/${name}`]: [
      '# A stand-in build: there is no ITP bug to close, and its only content is its build information.',
      `${name}: initial-upload-closes-no-bugs`,
      `${name}: package-contains-no-arch-dependent-files`,
      '',
    ].join('\n'),
  };
  const md5sums = Object.entries(content)
    .map(([path, bytes]) => `${createHash('md5').update(bytes).digest('hex')}  ${path}\n`)
    .join('');
  const control = [
    `Package: ${name}`,
    `Version: ${data.version}`,
    `Architecture: ${data.architecture}`,
    'Maintainer: Conveyor <conveyor@example.org>',
    'Section: misc',
    'Priority: optional',
    `Description: ${data.description}`,
    ` This package was built by the Conveyor mkdeb task for ${data.architecture}. It stands`,
    ' in for a real build: it holds only its build information and documentation.',
    '',
  ].join('\n');
  return { ...content, 'DEBIAN/md5sums': md5sums, 'DEBIAN/control': control };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Thu, 01 Jan 2026 00:00:00 +0000`, the date format of a Debian changelog trailer. */
function rfc2822(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[date.getUTCDay()]}, ${pad(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}
