import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { jsonLayoutOptions } from "../src/files/json-layout.js";
import { removeDir, tempDir } from "./helpers.js";

const ARRAY = ", format = 'array', records = true";

describe("jsonLayoutOptions", () => {
  const dir = tempDir("json-layout");
  afterAll(() => removeDir(dir));
  const file = (name: string, content: string | Buffer, gzip = false) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return { table: "data", path, format: "json" as const, gzip };
  };

  it("names an array of objects, after a BOM and whitespace, gzip or not", async () => {
    expect(await jsonLayoutOptions(file("a.json", '[{"a":1}]'))).toBe(ARRAY);
    expect(await jsonLayoutOptions(file("b.json", '\uFEFF\n  [\n\t {"a":1},\n {"a":2}]'))).toBe(ARRAY);
    // A large gzip file: only its head is inflated.
    const big = `[${Array.from({ length: 50_000 }, (_, i) => `{"i":${i}}`).join(",")}]`;
    expect(await jsonLayoutOptions(file("c.json.gz", gzipSync(big), true))).toBe(ARRAY);
  });

  it("leaves everything else to DuckDB's detection", async () => {
    expect(await jsonLayoutOptions(file("lines.json", '{"a":1}\n{"a":2}\n'))).toBe("");
    expect(await jsonLayoutOptions(file("scalars.json", "[1, 2, 3]"))).toBe("");
    expect(await jsonLayoutOptions(file("nested.json", "[[1], [2]]"))).toBe("");
    expect(await jsonLayoutOptions(file("empty.json", ""))).toBe("");
    expect(await jsonLayoutOptions(file("notgzip.json.gz", "[{}]", true))).toBe("");
    expect(await jsonLayoutOptions({ table: "data", path: join(dir, "missing.json"), format: "json", gzip: false })).toBe("");
  });
});
