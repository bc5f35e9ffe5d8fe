import type * as z from 'zod';

/** Parses a message body produced by this project against its schema; throws `not <what>` on anything else. */
export function parseMessageBody<S extends z.ZodType>(body: string, schema: S, what: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new Error(`not ${what}: malformed JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`not ${what}`);
  return parsed.data;
}
