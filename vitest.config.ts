import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Several suites kill, freeze and restart real servers and wait on real clocks; on a loaded 2-core
    // machine one such test failed once in ten full runs (not reproduced). CI retries a failed test once
    // rather than losing a run to it; a test that fails twice still fails the build.
    retry: process.env.CI ? 1 : 0,
  },
});
