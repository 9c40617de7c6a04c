import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // `pnpm test` (scripts/test.mjs) sums these reports into one totals line.
    reporters: ["default", "json"],
    outputFile: { json: ".vitest-results.json" },
    coverage: {
      provider: "v8",
      include: ["src/**"],
      reporter: ["text-summary", "text"],
    },
  },
});
