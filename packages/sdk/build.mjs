// Builds @herald/sdk: dist/index.js (+ react.js when src/react.tsx exists), ESM,
// platform neutral, partysocket and react external (the app's bundler resolves
// them); dist/herald.browser.js, one self-contained minified file with
// partysocket inlined (for a <script type="module"> page); the .d.ts files.
// `--size` prints the browser bundle's min+gzip bytes and fails above the budget.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const BUDGET_BYTES = 15 * 1024;
const sizeOnly = process.argv.includes("--size");

// The protocol package's modules only define things: whatever the SDK does not
// use (its zod schemas) is dropped from the bundle, so zod never ships.
const protocolIsPure = {
  name: "protocol-is-pure",
  setup(b) {
    b.onResolve({ filter: /^\./ }, async (args) => {
      if (args.pluginData?.protocolIsPure) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { protocolIsPure: true } });
      if (r.errors.length > 0 || !/[\\/]src[\\/]protocol[\\/]/.test(r.path)) return r.errors.length > 0 ? { errors: r.errors } : { path: r.path, external: r.external, namespace: r.namespace };
      return { path: r.path, namespace: r.namespace, sideEffects: false };
    });
  },
};

const common = {
  bundle: true,
  format: "esm",
  target: "es2022",
  logLevel: "warning",
  plugins: [protocolIsPure],
};

/** The browser bundle: everything inlined, minified. */
async function browserBundle(write) {
  const result = await build({
    ...common,
    entryPoints: [join(here, "src/index.ts")],
    platform: "browser",
    minify: true,
    write: false,
    metafile: true,
  });
  const code = result.outputFiles[0].contents;
  // What made it into the output (the metafile's inputs also list modules that were parsed and then dropped).
  const out = Object.values(result.metafile.outputs)[0];
  const inputs = Object.entries(out.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k);
  if (inputs.some((p) => /node_modules[\\/]zod[\\/]/.test(p))) throw new Error("zod ended up in the SDK bundle: something imports a protocol schema at runtime");
  const server = inputs.filter((p) => /^(\.\.\/)*src\//.test(p) && !/^(\.\.\/)*src\/protocol\//.test(p));
  if (server.length > 0) throw new Error(`server code in the SDK bundle: ${server.join(", ")}`);
  if (write) {
    mkdirSync(dist, { recursive: true });
    writeFileSync(join(dist, "herald.browser.js"), code);
  }
  return { min: code.byteLength, gzip: gzipSync(code, { level: 9 }).byteLength, inputs };
}

if (sizeOnly) {
  const { min, gzip, inputs } = await browserBundle(false);
  console.log(`@herald/sdk browser bundle (with partysocket): ${min} bytes minified, ${gzip} bytes min+gzip (budget ${BUDGET_BYTES})`);
  console.log(`inputs: ${inputs.join(", ")}`);
  if (gzip > BUDGET_BYTES) {
    console.error(`over budget by ${gzip - BUDGET_BYTES} bytes`);
    process.exit(1);
  }
  process.exit(0);
}

rmSync(dist, { recursive: true, force: true });
const entryPoints = [join(here, "src/index.ts")];
if (existsSync(join(here, "src/react.tsx"))) entryPoints.push(join(here, "src/react.tsx"));
else if (existsSync(join(here, "src/react.ts"))) entryPoints.push(join(here, "src/react.ts"));
await build({
  ...common,
  entryPoints,
  outdir: dist,
  platform: "neutral",
  mainFields: ["module", "main"],
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  jsx: "automatic",
  external: ["partysocket", "partysocket/*", "react", "react/*", "react-dom"],
  sourcemap: true,
});
const { min, gzip } = await browserBundle(true);

// Declarations: tsc lays them out from the repository root (the protocol package lives outside this one).
const tsc = join(here, "../../node_modules/.bin/tsc");
execFileSync(tsc, ["-p", here, "--noEmit", "false", "--declaration", "--emitDeclarationOnly", "--rootDir", join(here, "../.."), "--outDir", join(dist, "types")], { stdio: "inherit" });
for (const entry of entryPoints) {
  const name = entry.replace(/^.*[\\/]/, "").replace(/\.tsx?$/, "");
  writeFileSync(join(dist, `${name}.d.ts`), `export * from "./types/packages/sdk/src/${name}.js";\n`);
}
console.log(`built ${entryPoints.length} entr${entryPoints.length === 1 ? "y" : "ies"} into dist/; browser bundle ${min} bytes minified, ${gzip} bytes min+gzip`);
