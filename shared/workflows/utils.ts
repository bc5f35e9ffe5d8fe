/**
 * The workflow utilities of Debusine's `workflow_utils` (seed 001): they read architectures,
 * package names and source packages out of lookup results, artifacts and promises.
 */
import { PROMISE_CATEGORY } from '../domain/collections';
import type { LookupResult } from '../domain/collections';

/** What the utilities need to know about an artifact. */
export interface ArtifactView {
  id: number;
  category: string;
  data: Record<string, unknown>;
}

export type ArtifactReader = (id: number) => Promise<ArtifactView>;
export type RelationReader = (id: number) => Promise<{ target: number; type: string }[]>;

export class ArtifactHasNoArchitecture extends Error {}
export class ArtifactHasNoBinaryPackageName extends Error {}

function field(data: Record<string, unknown>, ...path: string[]): unknown {
  let value: unknown = data;
  for (const key of path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/** The category of a result: the artifact's, or the promised one. */
export function lookupResultArtifactCategory(result: LookupResult, artifact?: ArtifactView): string {
  const item = result.collectionItem;
  if (item?.category === PROMISE_CATEGORY) return String(item.data['promise_category'] ?? '');
  if (artifact) return artifact.category;
  if (item) return item.category;
  throw new Error('lookup result has neither an artifact nor a promise');
}

/**
 * Architecture of a result: a promise's `architecture`, else the artifact's
 * (`architecture`, or `deb_fields.Architecture` of a binary package), else the item's data.
 */
export function lookupResultArchitecture(result: LookupResult, artifact?: ArtifactView): string {
  const candidates = [
    result.collectionItem?.data['architecture'],
    artifact ? artifact.data['architecture'] : undefined,
    artifact ? field(artifact.data, 'deb_fields', 'Architecture') : undefined,
  ];
  const arch = candidates.find((c): c is string => typeof c === 'string' && c.length > 0);
  if (!arch) throw new ArtifactHasNoArchitecture(`cannot tell the architecture of ${describe(result)}`);
  return arch;
}

/** Binary package name of a result: a promise's `binary_package_name`, else `deb_fields.Package`. */
export function lookupResultBinaryPackageName(result: LookupResult, artifact?: ArtifactView): string {
  const candidates = [result.collectionItem?.data['binary_package_name'], artifact ? field(artifact.data, 'deb_fields', 'Package') : undefined];
  const name = candidates.find((c): c is string => typeof c === 'string' && c.length > 0);
  if (!name) throw new ArtifactHasNoBinaryPackageName(`cannot tell the binary package name of ${describe(result)}`);
  return name;
}

/** The set of architectures of lookup results (Debusine's `get_architectures`). */
export async function getArchitectures(results: LookupResult[], read: ArtifactReader): Promise<Set<string>> {
  const archs = new Set<string>();
  for (const r of results) archs.add(lookupResultArchitecture(r, r.artifact !== null ? await read(r.artifact) : undefined));
  return archs;
}

/** Follows relations of `type` from an artifact to the first related artifact of `category`. */
export async function followArtifactRelation(
  artifact: ArtifactView,
  type: string,
  category: string,
  read: ArtifactReader,
  relations: RelationReader,
): Promise<ArtifactView> {
  for (const rel of await relations(artifact.id)) {
    if (rel.type !== type) continue;
    const target = await read(rel.target);
    if (target.category === category) return target;
  }
  throw new Error(`artifact ${artifact.id} has no ${type} relation to a ${category}`);
}

/**
 * The source package of an artifact: a `debian:source-package` itself, or the one a
 * `debian:upload` extends (Debusine's `locate_debian_source_package`).
 */
export async function locateDebianSourcePackage(artifact: ArtifactView, read: ArtifactReader, relations: RelationReader): Promise<ArtifactView> {
  if (artifact.category === 'debian:source-package') return artifact;
  if (artifact.category === 'debian:upload') return followArtifactRelation(artifact, 'extends', 'debian:source-package', read, relations);
  throw new Error(`artifact ${artifact.id} is a ${artifact.category}, not a debian:source-package or debian:upload`);
}

/** Sorted source package names of results: promises carry `source_package_name`, artifacts `name`/`srcpkg_name`. */
export async function getSourcePackageNames(results: LookupResult[], expected: string[], read: ArtifactReader): Promise<string[]> {
  const names = new Set<string>();
  for (const r of results) {
    if (r.collectionItem?.category === PROMISE_CATEGORY) {
      const name = r.collectionItem.data['source_package_name'];
      if (typeof name !== 'string') throw new Error(`promise ${r.collectionItem.name} has no source_package_name`);
      names.add(name);
      continue;
    }
    if (r.artifact === null) throw new Error('lookup result is neither an artifact nor a promise');
    const artifact = await read(r.artifact);
    if (!expected.includes(artifact.category)) throw new Error(`artifact ${artifact.id} is a ${artifact.category}, expected ${expected.join(' or ')}`);
    const name = artifact.data['srcpkg_name'] ?? artifact.data['name'];
    if (typeof name !== 'string') throw new Error(`artifact ${artifact.id} has no source package name`);
    names.add(name);
  }
  return [...names].sort();
}

function describe(result: LookupResult): string {
  return result.artifact !== null ? `artifact ${result.artifact}` : `item ${result.collectionItem?.name ?? '?'}`;
}
