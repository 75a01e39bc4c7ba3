// One jest configuration for the whole repo and for each project, so `npm test` at the root and
// `nx test <project>` run the same two suites: unit (no infrastructure) and integration (*.int.test.ts,
// real Kafka, Redis and PostgreSQL, started by the global setup when not given in the environment).
const path = require('node:path');

const root = __dirname;
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
};
// @dmarc/<name> is a library or a service: its src/index.ts (the one public entry point).
const moduleNameMapper = {
  '^@dmarc/([a-z0-9-]+)$': [path.join(root, 'libs/$1/src/index.ts'), path.join(root, 'services/$1/src/index.ts')],
};
const ignore = ['/node_modules/', '/dist/', '/.infra/'];

function projects(dir) {
  return [
    {
      displayName: 'unit',
      rootDir: dir,
      testEnvironment: 'node',
      transform,
      moduleNameMapper,
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: [...ignore, '\\.int\\.test\\.ts$'],
    },
    {
      displayName: 'integration',
      rootDir: dir,
      testEnvironment: 'node',
      transform,
      moduleNameMapper,
      testMatch: ['**/*.int.test.ts'],
      testPathIgnorePatterns: ignore,
      globalSetup: path.join(root, 'scripts/jest/global-setup.js'),
      globalTeardown: path.join(root, 'scripts/jest/global-teardown.js'),
      setupFilesAfterEnv: [path.join(root, 'scripts/jest/integration-timeout.js')],
    },
  ];
}

module.exports = (dir) => ({ projects: projects(dir), passWithNoTests: true });
