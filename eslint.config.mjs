import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Who may import whom. Services are thin shells over libraries; only data-access libraries
// talk to Kafka, Redis or PostgreSQL drivers; schema and util libraries depend on nothing heavier.
const depConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:service', 'type:data-access', 'type:domain', 'type:util', 'type:schema'] },
  { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:data-access', 'type:domain', 'type:util', 'type:schema'] },
  { sourceTag: 'type:data-access', onlyDependOnLibsWithTags: ['type:data-access', 'type:domain', 'type:util', 'type:schema'] },
  { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain', 'type:util', 'type:schema'] },
  { sourceTag: 'type:schema', onlyDependOnLibsWithTags: ['type:schema', 'type:util'] },
  { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
];

const driverImports = {
  paths: [
    { name: 'kafkajs', message: 'Only type:data-access libraries import kafkajs; use @dmarc/bus.' },
    { name: 'ioredis', message: 'Only type:data-access libraries import ioredis.' },
    { name: 'pg', message: 'Only type:data-access libraries import pg; use @dmarc/store.' },
  ],
};

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', '.infra/**', '.nx/**', '**/jest.config.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, allow: [], depConstraints }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The driver rule applies outside data-access libraries (their own folders are listed here).
  {
    files: ['libs/**/*.ts', 'services/**/*.ts'],
    ignores: ['libs/bus/**', 'libs/store/**', 'libs/cache/**', 'libs/dns-cache/**', 'libs/tenant-admin/**', '**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', driverImports] },
  },
];
