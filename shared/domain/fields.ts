/**
 * Copying a record's fields by name, for the mappings between Conveyor's spellings of one record:
 * the domain's camelCase, the wire's snake_case (Debusine's JSON) and the DynamoDB item, where every
 * field keeps its domain name. Each helper copies the fields it is given unchanged; a field with a
 * default, a conversion or another name stays written out beside the call, so that what a mapping
 * does differently is what one reads.
 */

/** `retainsArtifacts` → `retains_artifacts`. */
export type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}`
  : S;

/** `retains_artifacts` → `retainsArtifacts`. */
export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

function renamed(record: object, fields: readonly string[], rename: (name: string) => string): Record<string, unknown> {
  const values = record as Record<string, unknown>;
  return Object.fromEntries(fields.map((field) => [rename(field), values[field]]));
}

/** The `fields` of a domain record under their wire (snake_case) names, in the order given. */
export function snakeCaseFields<T extends object, K extends keyof T & string>(record: T, fields: readonly K[]): { [P in NoInfer<K> as SnakeCase<P>]: T[P] } {
  return renamed(record, fields, snakeCase) as { [P in NoInfer<K> as SnakeCase<P>]: T[P] };
}

/** The `fields` of a wire (snake_case) body under their domain (camelCase) names, in the order given. */
export function camelCaseFields<T extends object, K extends keyof T & string>(record: T, fields: readonly K[]): { [P in NoInfer<K> as CamelCase<P>]: T[P] } {
  return renamed(record, fields, camelCase) as { [P in NoInfer<K> as CamelCase<P>]: T[P] };
}

/** The `fields` of a record under the same names, in the order given. */
export function pickFields<T extends object, K extends keyof T & string>(record: T, fields: readonly K[]): Pick<T, NoInfer<K>> {
  return renamed(record, fields, (name) => name) as Pick<T, NoInfer<K>>;
}

/** The record without its undefined fields (a partial update changes only what it names). */
export function definedFields<T extends object>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>;
}
