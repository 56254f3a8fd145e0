import { defineConfig } from "vitest/config";

// End-to-end tests of the client SDK (test/e2e/): Node, not workerd. Each file
// starts the real Worker with `wrangler dev` on a loopback port; files run one
// after another so servers never compete for the CPU.
export default defineConfig({
  test: {
    name: "e2e",
    environment: "node",
    include: ["test/e2e/**/*.e2e.ts"],
    globalSetup: ["./test/e2e/harness/global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    reporters: ["default"],
  },
});
