/** Jest runs the TypeScript sources as native ES modules, transpiled by SWC (type checking is `npm run typecheck`). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/src/**/*.test.ts'],
  testTimeout: 30000,
  // Most suites wait on child processes, sockets and the database: one worker per core (jest's default leaves one
  // core idle) takes npm test from about 6 to under 3 minutes on this 2-core machine.
  maxWorkers: '100%',
  // ESM test modules are never freed inside a worker: a worker that has grown past this after a test file is
  // replaced by a fresh one (a worker that ran half the suite once died at V8's heap limit).
  workerIdleMemoryLimit: '1GB',
  // Multi-process tests start gateways and HTTP receivers; a handle one of them leaks must not keep CI waiting.
  forceExit: true,
};
