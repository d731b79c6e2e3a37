import { splitTests } from './test/harness/projects.js';

/** Jest runs the TypeScript sources as native ES modules, transpiled by SWC (type checking is `npm run typecheck`). */
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

// `npm run test:unit` selects the unit project: the files that start no gateway and no PostgreSQL (the rule is in
// test/harness/projects.js).
const tests = splitTests([new URL('./test', import.meta.url).pathname, new URL('./src', import.meta.url).pathname]);

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: tests.unit },
    { ...common, displayName: 'integration', testMatch: tests.integration },
  ],
  testTimeout: 30000,
  // Two workers on this 2-core machine; each has a PostgreSQL database of its own (test/harness/postgres.ts).
  maxWorkers: 2,
  // A worker keeps what every file it ran loaded (module registries, profile definitions); past this it is replaced
  // between files, which keeps the run's memory bounded (README, Tests).
  workerIdleMemoryLimit: '700MB',
  globalSetup: '<rootDir>/test/harness/global-setup.js',
  globalTeardown: '<rootDir>/test/harness/global-teardown.js',
};
