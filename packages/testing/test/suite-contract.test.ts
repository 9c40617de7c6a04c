import { readFileSync } from "node:fs";
import { SqlDate, SqlTimestamp, valuesEqual, type BackendCapabilities, type Value } from "@mdm/storage-core";
import { describe, expect, it } from "vitest";
import {
  MemoryStorageBackend,
  conformanceCheckTitles,
  conformanceChecks,
  defineConformanceSuite,
  expectedOutcome,
  fidelityFixtures,
  getFidelityFixture,
  resolveSkips,
  runConformanceChecks,
} from "../src/vitest.js";

const caps = (values: Partial<BackendCapabilities["values"]>): BackendCapabilities => {
  const base = new MemoryStorageBackend().capabilities;
  return { ...base, values: { ...base.values, ...values } };
};

const valuesOf = (name: string): Value[] => getFidelityFixture(name).values.map((v) => v.value);
const has = (name: string, value: Value) => {
  const fixture = getFidelityFixture(name);
  return valuesOf(name).some((v) => v !== null && valuesEqual(fixture.column.type, v, value));
};

describe("the skip contract", () => {
  const title = conformanceCheckTitles()[0] as string;

  it("accepts a skip that names a check and gives a reason", () => {
    expect(resolveSkips([{ test: title, reason: "not applicable here" }])).toEqual(new Map([[title, "not applicable here"]]));
  });

  it("refuses a skip without a reason, with a blank reason, naming no check, or twice", () => {
    expect(() => resolveSkips([{ test: title } as never])).toThrow(/has no reason/);
    expect(() => resolveSkips([{ test: title, reason: "  " }])).toThrow(/has no reason/);
    expect(() => resolveSkips([{ test: "no such check", reason: "x" }])).toThrow(/names no test/);
    expect(() => resolveSkips([{ test: "", reason: "x" }])).toThrow(/title of a test/);
    expect(() => resolveSkips([{ test: title, reason: "a" }, { test: title, reason: "b" }])).toThrow(/skipped twice/);
  });

  it("defineConformanceSuite throws on a reasonless skip, a missing name or a missing factory", () => {
    const createBackend = () => ({ backend: new MemoryStorageBackend() });
    expect(() => defineConformanceSuite({ name: "x", createBackend, skip: [{ test: title, reason: "" }] })).toThrow(/has no reason/);
    expect(() => defineConformanceSuite({ name: "", createBackend })).toThrow(/needs a name/);
    expect(() => defineConformanceSuite({ name: "x" } as never)).toThrow(/createBackend/);
  });

  it("the plain runner reports a skipped check with its reason and does not run it", async () => {
    let created = 0;
    const report = await runConformanceChecks({
      name: "memory",
      createBackend: () => {
        created++;
        return { backend: new MemoryStorageBackend() };
      },
      skip: [{ test: title, reason: "shown in the report" }],
      filter: (c) => c.title === title,
    });
    expect(report.results).toEqual([expect.objectContaining({ title, status: "skipped", message: "shown in the report" })]);
    expect(created).toBe(0);
  });

  it("a backend that fails to close or clean up is reported", async () => {
    const report = await runConformanceChecks({
      name: "cleanup fails",
      createBackend: () => ({ backend: new MemoryStorageBackend(), cleanup: () => { throw new Error("cleanup exploded"); } }),
      filter: (c) => c.title === title,
    });
    expect(report.failed).toBe(1);
    expect(report.results[0]?.message).toContain("cleanup exploded");
  });
});

describe("the fidelity fixtures", () => {
  it("have unique names and one check each", () => {
    const names = fidelityFixtures.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(conformanceCheckTitles()).toContain(`fidelity: ${name}`);
  });

  it("cover the values of reliability.md §2/§3 (A-cases)", () => {
    for (const v of [-(2n ** 63n), -(2n ** 53n) - 1n, -1n, 0n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n]) expect(has("int64 boundaries", v)).toBe(true);
    for (const v of [5e-324, 1.7976931348623157e308, 0.1, 0.30000000000000004]) expect(has("float64 finite values", v)).toBe(true);
    expect(has("float64 NaN", Number.NaN)).toBe(true);
    expect(has("float64 infinities", Number.POSITIVE_INFINITY) && has("float64 infinities", Number.NEGATIVE_INFINITY)).toBe(true);
    expect(valuesOf("float64 negative zero").some((v) => Object.is(v, -0))).toBe(true);
    expect(valuesOf("decimal(38,10)")).toContain("12345678901234567890.1234567890");
    expect(valuesOf("decimal(10,2)")).toContain("0.10");
    expect(valuesOf("decimal unconstrained")).toContain("0.000000000000000000000000000001");
    expect(valuesOf("decimal NaN and infinities")).toContain("NaN");
    expect(valuesOf("boolean with NULL")).toEqual([true, false, null]);
    expect(valuesOf("empty string, NULL and look-alikes")).toEqual(expect.arrayContaining(["", null, " ", "NULL", "\\N"]));
    expect(valuesOf("NUL bytes in text")).toEqual(expect.arrayContaining(["a\0b", "\0"]));
    expect(valuesOf("unicode text")).toEqual(expect.arrayContaining(["😀", "👨‍👩‍👧", "e\u0301", "\u00e9", "a\u2028b"]));
    const long = valuesOf("long text") as string[];
    expect(Buffer.byteLength(long[0] as string, "utf8")).toBe(100 * 1024);
    expect(Buffer.byteLength(long[1] as string, "utf8")).toBe(1024 * 1024);
    for (const d of ["0001-01-01", "1900-02-28", "1969-12-31", "1970-01-01", "2000-02-29", "9999-12-31"]) expect(has("dates", SqlDate.parse(d))).toBe(true);
    for (const t of ["1960-01-01 00:00:00.000001", "1969-12-31 23:59:59.999999", "2024-01-01 00:00:00.123456"]) {
      expect(has("timestamps with microseconds", SqlTimestamp.parse(t))).toBe(true);
    }
    expect(has("timestamptz", SqlTimestamp.parse("2023-12-31 19:00:00Z"))).toBe(true); // 2024-01-01 00:00+05
    const blobs = valuesOf("blobs") as Array<Uint8Array | null>;
    expect(blobs.some((b) => b?.length === 0)).toBe(true);
    expect(blobs.some((b) => b?.length === 256 && b.every((x, i) => x === i))).toBe(true);
    expect(valuesOf("JSON texts")).toEqual(expect.arrayContaining(['{"b":1,"a":2,"a":3}', '{"n":12345678901234567890}']));
    expect(valuesOf("JSON with a \\u0000 escape")).toContain('{"s":"\\u0000"}');
    for (const fixture of fidelityFixtures) expect(fixture.values.map((v) => v.value)).toContain(null);
  });

  it("name the capability flag that governs refusable values", () => {
    for (const fixture of fidelityFixtures) {
      if (fixture.values.some((v) => v.governed)) expect(fixture.capability, fixture.name).toBeDefined();
    }
  });

  it("expectedOutcome follows the documented rule", () => {
    const nan = getFidelityFixture("float64 NaN");
    const nanValue = nan.values[0]!;
    expect(expectedOutcome(nan, nanValue, caps({ nan: true }))).toBe("hold");
    expect(expectedOutcome(nan, nanValue, caps({ nan: false }))).toBe("refuse");
    expect(expectedOutcome(nan, nan.values[1]!, caps({ nan: false }))).toBe("hold");

    const wide = getFidelityFixture("decimal(50,20)");
    expect(expectedOutcome(wide, wide.values[0]!, caps({ maxDecimalPrecision: 38 }))).toBe("refuse");
    expect(expectedOutcome(wide, wide.values[2]!, caps({ maxDecimalPrecision: 38 }))).toBe("either"); // NULL in a column beyond the backend
    expect(expectedOutcome(wide, wide.values[0]!, caps({ maxDecimalPrecision: Number.POSITIVE_INFINITY }))).toBe("hold");

    const free = getFidelityFixture("decimal unconstrained");
    const forty = free.values.find((v) => v.label === "40 integer digits")!;
    expect(expectedOutcome(free, forty, caps({ maxDecimalPrecision: 38 }))).toBe("either");
    expect(expectedOutcome(free, free.values[0]!, caps({ maxDecimalPrecision: 38 }))).toBe("hold");

    const special = getFidelityFixture("decimal NaN and infinities");
    expect(expectedOutcome(special, special.values[0]!, caps({ maxDecimalPrecision: Number.POSITIVE_INFINITY, nan: true }))).toBe("hold");
    expect(expectedOutcome(special, special.values[0]!, caps({ maxDecimalPrecision: 38, nan: true }))).toBe("either");
  });
});

describe("the README", () => {
  it("lists every check title (what skip entries name) and every fixture", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    for (const check of conformanceChecks) expect(readme, check.title).toContain(`- ${check.title}\n`);
    for (const fixture of fidelityFixtures) expect(readme, fixture.name).toContain(`| ${fixture.name} |`);
  });
});

describe("coverage of the interface", () => {
  it("every member of IStorageBackend (as declared by the installed @mdm/storage-core) is called by the suite", async () => {
    const { createRequire } = await import("node:module");
    const { everyAsyncCall, SYNCHRONOUS_MEMBERS } = (await import("@mdm/storage-core")).conformance;
    const declarations = readFileSync(createRequire(import.meta.url).resolve("@mdm/storage-core").replace(/index\.c?js$/, "index.d.ts"), "utf8");
    const body = /interface IStorageBackend \{([\s\S]*?)\n\}/.exec(declarations)?.[1];
    expect(body, "IStorageBackend in the core declarations").toBeDefined();
    const members = [...(body as string).matchAll(/^\s{4}(?:readonly\s+)?([A-Za-z]\w*)\s*[(:<?]/gm)].map((m) => m[1]);
    expect(members.length).toBeGreaterThan(40);
    const backend = new MemoryStorageBackend();
    const engine = { backendType: "sqlite", database: "x", id: 0 } as never;
    const called = new Set([...everyAsyncCall(backend, engine, "x").map(([name]) => name), ...SYNCHRONOUS_MEMBERS]);
    expect(members.filter((m) => !called.has(m as string)), "members no check calls: add them to the suite").toEqual([]);
  });
});
