import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { isArrayOfObjects } from "../src/files/json-layout.js";
import { removeDir, tempDir } from "./helpers.js";


describe("isArrayOfObjects", () => {
  const dir = tempDir("json-layout");
  afterAll(() => removeDir(dir));
  const file = (name: string, content: string | Buffer, gzip = false) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return { table: "data", path, format: "json" as const, gzip };
  };

  it("names an array of objects, after a BOM and whitespace, gzip or not", async () => {
    expect(await isArrayOfObjects(file("a.json", '[{"a":1}]'))).toBe(true);
    expect(await isArrayOfObjects(file("b.json", '\uFEFF\n  [\n\t {"a":1},\n {"a":2}]'))).toBe(true);
    // A large gzip file: only its head is inflated.
    const big = `[${Array.from({ length: 50_000 }, (_, i) => `{"i":${i}}`).join(",")}]`;
    expect(await isArrayOfObjects(file("c.json.gz", gzipSync(big), true))).toBe(true);
  });

  it("leaves everything else to DuckDB's detection", async () => {
    expect(await isArrayOfObjects(file("lines.json", '{"a":1}\n{"a":2}\n'))).toBe(false);
    expect(await isArrayOfObjects(file("scalars.json", "[1, 2, 3]"))).toBe(false);
    expect(await isArrayOfObjects(file("nested.json", "[[1], [2]]"))).toBe(false);
    expect(await isArrayOfObjects(file("empty.json", ""))).toBe(false);
    expect(await isArrayOfObjects(file("notgzip.json.gz", "[{}]", true))).toBe(false);
    expect(await isArrayOfObjects({ table: "data", path: join(dir, "missing.json"), format: "json", gzip: false })).toBe(false);
  });
});
