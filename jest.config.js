// Four tiers, one command (`npm test`). The integration and e2e tiers start the
// emulators themselves; see test/integration/global-setup.ts and test/e2e/stack.ts.
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
// middy ships ESM only; let swc turn it into CommonJS for jest.
const transformIgnorePatterns = ['/node_modules/(?!@middy/)'];
const common = { transform, transformIgnorePatterns, testEnvironment: 'node' };
// Tests that need DynamoDB Local or the local stack wait on other processes: on a loaded 2-core
// machine a default of 5 s fails tests that are correct, so every test gets 30 s unless it says more.
module.exports = {
  testTimeout: 30000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
      setupFiles: ['<rootDir>/test/integration/apply-env.ts'],
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    { ...common, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
  ],
};
