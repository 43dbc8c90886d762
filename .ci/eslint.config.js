import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['kernel-lib/dist/**', 'node_modules/**', '.cache/**', 'notebooks/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'smart'],
      'prefer-const': 'error',
    },
  },
);
