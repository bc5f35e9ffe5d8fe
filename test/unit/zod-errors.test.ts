/** Field errors are keyed by whatever the client called its fields, `__proto__` included (found by the reliability run). */
import { z } from 'zod';
import { zodFieldErrors } from '../../shared/domain/zod-errors';

it('names a field called __proto__ instead of throwing', () => {
  const parsed = z.strictObject({ enabled: z.boolean().optional() }).safeParse(JSON.parse('{"__proto__":{"admin":true},"constructor":1}'));
  expect(parsed.success).toBe(false);
  const errors = zodFieldErrors(parsed.error!);
  expect(Object.keys(errors).sort()).toEqual(['__proto__', 'constructor']);
  expect(errors['__proto__']).toEqual(['unknown field']);
});
