import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { TaskDefinition } from './types';

const schema = z.strictObject({
  package: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name'),
  version: z.string().regex(/^[0-9][A-Za-z0-9.+~:-]*$/, 'must be a Debian version'),
  architecture: z.string().regex(/^[a-z0-9-]+$/),
  // One line: a newline would add fields to DEBIAN/control (security finding 7).
  description: z
    .string()
    .max(200)
    .regex(/^[^\u0000-\u001f\u007f]*\S[^\u0000-\u001f\u007f]*$/, 'must be one line of text without control characters')
    .default('package built by Conveyor'),
});

export type MkdebData = z.output<typeof schema>;

/**
 * Conveyor addition, a stand-in for sbuild: builds a minimal Debian binary package for an
 * architecture with `dpkg-deb` (a documentation-only package, so no compiler or chroot is
 * needed) and uploads it as a `debian:binary-package`.
 */
export const mkdebTask: TaskDefinition<MkdebData> = {
  name: 'mkdeb',
  taskType: 'Worker',
  version: 1,
  schema,
  requirements: () => ({ flags: ['mkdeb:available'] }),
  async execute(data, ctx) {
    const root = join(ctx.workDir, 'pkg');
    const docDir = join(root, 'usr', 'share', 'doc', data.package);
    await mkdir(join(root, 'DEBIAN'), { recursive: true });
    await mkdir(docDir, { recursive: true });
    const control = [
      `Package: ${data.package}`,
      `Version: ${data.version}`,
      `Architecture: ${data.architecture}`,
      'Maintainer: Conveyor <conveyor@example.org>',
      'Section: misc',
      'Priority: optional',
      `Description: ${data.description}`,
      ` Built by the Conveyor mkdeb task for ${data.architecture}.`,
      '',
    ].join('\n');
    await writeFile(join(root, 'DEBIAN', 'control'), control);
    await writeFile(join(docDir, 'README'), `${data.package} ${data.version} (${data.architecture})\n`);
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
  },
};
