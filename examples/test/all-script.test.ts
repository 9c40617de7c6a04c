import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXAMPLES_DIR } from "./support/run-example.js";

describe("pnpm --filter examples run all", () => {
  it("runs every example of src/ (the comparison-reports generator aside), each with tsx", () => {
    const pkg = JSON.parse(readFileSync(join(EXAMPLES_DIR, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const examples = readdirSync(join(EXAMPLES_DIR, "src")).filter((f) => f.endsWith(".ts") && f !== "comparison-reports.ts");
    const run = [...pkg.scripts.all!.matchAll(/tsx src\/([\w-]+\.ts)/g)].map((m) => m[1]);
    expect(run.sort()).toEqual(examples.sort());
    expect(pkg.scripts.all!.split("&&")).toHaveLength(examples.length);
  });
});
