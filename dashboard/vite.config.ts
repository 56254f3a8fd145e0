// The dashboard: Preact (React's API at a tenth of the size) running the SDK's
// React bindings unchanged through preact/compat, built by Vite into
// dashboard/dist, which wrangler.toml serves as the Worker's static assets.
// `--mode development` (npm run dev, the e2e tests) keeps the dev-token button;
// the default production build leaves it out entirely.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig(({ mode }) => ({
  root: here("."),
  base: "/",
  publicDir: here("public"),
  resolve: {
    alias: [
      { find: /^@herald\/sdk\/react$/, replacement: here("../packages/sdk/src/react.tsx") },
      { find: /^@herald\/sdk$/, replacement: here("../packages/sdk/src/index.ts") },
      { find: /^react-dom\/client$/, replacement: "preact/compat/client" },
      { find: /^react-dom$/, replacement: "preact/compat" },
      { find: /^react\/jsx-runtime$/, replacement: "preact/jsx-runtime" },
      { find: /^react\/jsx-dev-runtime$/, replacement: "preact/jsx-dev-runtime" },
      { find: /^react$/, replacement: "preact/compat" },
    ],
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  define: { __HERALD_DEV_TOKEN__: JSON.stringify(mode === "development") },
  build: {
    outDir: here("dist"),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // Built once for development too: the Worker serves files, not Vite's dev server.
    minify: true,
    rolldownOptions: {
      // The protocol's modules only define things (as the SDK's build assumes):
      // what the dashboard does not use, zod included, is dropped.
      treeshake: { moduleSideEffects: (id: string) => !/[\\/]src[\\/]protocol[\\/]/.test(id) },
    },
  },
}));
