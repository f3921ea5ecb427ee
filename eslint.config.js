// ESLint (flat config): typescript-eslint's type-aware recommended rules over every TypeScript file; formatting is
// Prettier's job (`npm run lint` runs ESLint, Prettier's check and madge's import-cycle check).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const NODE_TEST = { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] };

const config = tseslint.config(
  {
    ignores: ['node_modules/', 'data/', 'src/db/generated/', 'openapi/sdk/dist/', 'test-artifacts/', '.gpu/', '.gl/', '.tmp/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // TypeScript itself reports undefined names.
      'no-undef': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [NODE_TEST] }],
      // Fastify handlers and plugins are async by contract even when they await nothing.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true }],
    },
  },
  {
    // Tests read untyped JSON bodies (supertest's `body: any`) on purpose: asserting on them is the point.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // ...and name such bodies and job reports `any` / `Record<string, any>` where they are declared.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  // CommonJS preload scripts (node --require) have no `import`.
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  { files: ['dashboard/**/*.js'], languageOptions: { globals: globals.browser } },
  { files: ['bench/gpu/**/*.{js,mjs,cjs}', 'scripts/**/*.{js,mjs,cjs}', 'eslint.config.js'], languageOptions: { globals: globals.node } },
);

// Generated clients (`npm run clients`) are linted with every rule off rather than ignored: /work/bin/land passes
// changed files to ESLint explicitly, and an ignored file given by name is a warning there.
const GENERATED = ['test/clients/heyapi/**', 'test/clients/orval/**'];
const allRules = new Set(config.flatMap((c) => Object.keys(c.rules ?? {})));
export default [
  ...config,
  {
    files: GENERATED,
    ...tseslint.configs.disableTypeChecked,
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: Object.fromEntries([...allRules].map((r) => [r, 'off'])),
  },
];
