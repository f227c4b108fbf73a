// Lint for the whole repository. Besides style, it enforces the layering: `core` is pure (no file system,
// no network, no native or UI modules), and agent, tray-app and policy-server depend on core, never on
// each other. Each I/O library is imported from exactly one wrapper file (for the agent's native addon, lint checks it).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeIo = ['fs', 'fs/promises', 'node:fs', 'node:fs/promises', 'child_process', 'node:child_process', 'net', 'node:net', 'http', 'node:http', 'https', 'node:https', 'dgram', 'node:dgram', 'tls', 'node:tls', 'os', 'node:os', 'worker_threads', 'node:worker_threads'];
const nativeAndUi = ['electron', 'better-sqlite3', 'usb', 'drivelist', 'chokidar', 'winston', 'fastify', 'node-forge', '@exitseal/native'];
const packages = ['@exitseal/agent', '@exitseal/policy-server', '@exitseal/tray-app', '@exitseal/installer'];

function forbid(names, why) {
  return names.map((name) => ({ name, message: why }));
}

function forbidPatterns(groups, why) {
  return groups.map((group) => ({ group: [group, `${group}/*`], message: why }));
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/*.d.ts', 'bench/out/**', 'test-artifacts/**', 'policy-server/web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', '*.mjs', 'scripts/*.mjs', 'bench/*.mjs', 'agent/bin/*.js', 'native/*.cjs', 'native/scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['core/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...forbid(nodeIo, 'core is pure: no file system, processes or network. Put I/O in agent or policy-server.'), ...forbid(nativeAndUi, 'core is pure: no native, UI or I/O libraries.')],
        patterns: forbidPatterns(packages, 'core depends on nothing of ours.'),
      }],
    },
  },
  {
    files: ['agent/**/*.ts'],
    ignores: ['agent/src/files/native-addon.ts', 'agent/test/stream-cipher.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: forbid(['@exitseal/native'], 'the native addon is loaded by agent/src/files/native-addon.ts only: ask stream-cipher.ts for a ChunkCipher, space-reservation.ts for space.'),
        patterns: forbidPatterns(['@exitseal/policy-server', '@exitseal/tray-app', '@exitseal/installer'], 'agent depends on core only.'),
      }],
    },
  },
  {
    files: ['agent/src/files/native-addon.ts', 'agent/test/stream-cipher.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: forbidPatterns(['@exitseal/policy-server', '@exitseal/tray-app', '@exitseal/installer'], 'agent depends on core only.') }] },
  },
  {
    files: ['policy-server/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: forbidPatterns(['@exitseal/agent', '@exitseal/native', '@exitseal/tray-app', '@exitseal/installer'], 'policy-server depends on core only.') }] },
  },
  {
    files: ['tray-app/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: forbidPatterns(['@exitseal/agent', '@exitseal/native', '@exitseal/policy-server', '@exitseal/installer'], 'tray-app depends on core only (it talks to the agent over its local API).') }] },
  },
);
