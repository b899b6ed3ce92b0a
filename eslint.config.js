// ESLint for the platform's own browser code (static/js); run by scripts/test.
// The pages load each file as an ES module; Django's JavaScript catalogue
// (djangojs) provides gettext and friends as globals, the vendored
// OpenSeadragon provides its namespace.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/vendor/**", "staticfiles/**", "node_modules/**", ".venv/**"] },
  js.configs.recommended,
  {
    files: ["static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: {
        ...globals.browser,
        gettext: "readonly",
        ngettext: "readonly",
        interpolate: "readonly",
        pgettext: "readonly",
        OpenSeadragon: "readonly",
      },
    },
    rules: {
      "no-var": "error",
      "prefer-const": "error",
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],
    },
  },
];
