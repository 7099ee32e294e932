import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Tests that need real keys run with `npm run test:int` (vitest.int.config.ts), never in `npm test`.
    exclude: [...configDefaults.exclude, "test/**/*.int.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most test time is waiting (fake latencies, child processes): two files at a time, even on 2 cores
    // (vitest's default there is one), took the suite from 464 s to 286 s with the same results.
    maxWorkers: 2,
  },
});
