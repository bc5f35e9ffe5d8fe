// Setup file of the integration project: points the AWS SDK and the adapters at the emulators
// that global-setup.ts started (see EMULATOR_ENV_VAR there).
const packed = process.env['CONVEYOR_TEST_EMULATOR_ENV'];
if (!packed) throw new Error('integration tests need the emulators of test/integration/global-setup.ts');
for (const inherited of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL']) delete process.env[inherited];
Object.assign(process.env, JSON.parse(packed) as Record<string, string>);
