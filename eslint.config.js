import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".tmp/", "**/rendered/", "coverage/", "reports/", "test/**/fixtures/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The one JavaScript file (scripts/launch.mjs) is type-checked by tsc (checkJs), which knows
  // Node's globals; ESLint's no-undef does not.
  { files: ["**/*.mjs"], rules: { "no-undef": "off" } },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
);
