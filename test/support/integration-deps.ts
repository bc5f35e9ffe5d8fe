/**
 * Deps on the integration project's emulators (DynamoDB Local, SQS, s3rver: jest's global set-up puts
 * their endpoints in the environment), with the tables initialised once per test file.
 */
import { createAwsDeps } from '../../shared/adapters/aws';
import { initDatabase } from '../../shared/app/bootstrap';
import type { Deps } from '../../shared/ports';

/** Registers the `beforeAll` that builds them; call the returned getter inside tests. */
export function integrationDeps(): () => Deps {
  let deps: Deps | undefined;
  beforeAll(async () => {
    deps = createAwsDeps(process.env);
    await initDatabase(deps);
  });
  return () => {
    if (!deps) throw new Error('integration deps: used before beforeAll ran');
    return deps;
  };
}
