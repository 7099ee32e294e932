import { defineConfig } from "vitest/config";

/** `npm run test:int`: the tests that call real providers with real keys (each skips without its key). */
export default defineConfig({
  test: {
    include: ["test/**/*.int.test.ts"],
    testTimeout: 600_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
