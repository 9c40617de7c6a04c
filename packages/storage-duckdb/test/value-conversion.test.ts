import { describe, expect, test } from "vitest";
import { BIGINT, DECIMAL, DuckDBTimestampMillisecondsValue, DuckDBTypeId, FLOAT, INTEGER, TIMESTAMP_MS, UBIGINT, VARCHAR } from "@duckdb/node-api";
import { SqlTimestamp, isMdmError } from "@mdm/storage-core";
import { DuckdbStorageBackend, decimalText, duckdbTypeSql, readerFor, scaledDecimal, writerFor } from "../src/index.js";
import { tempHome } from "./helpers.js";

const code = (fn: () => unknown) => {
  try {
    fn();
    return "ok";
  } catch (error) {
    return isMdmError(error) ? error.code : String(error);
  }
};

describe("value conversion", () => {
  test("decimal text and scaled integers convert both ways exactly", () => {
    expect(decimalText(-12340n, 3)).toBe("-12.340");
    expect(decimalText(5n, 4)).toBe("0.0005");
    expect(decimalText(-5n, 0)).toBe("-5");
    expect(scaledDecimal("-12.34", 3)).toBe(-12340n);
    expect(scaledDecimal("1e3", 2)).toBe(100000n);
    expect(scaledDecimal("0.000", 1)).toBe(0n);
    expect(code(() => scaledDecimal("0.05", 1))).toBe("MDM_UNSUPPORTED_VALUE");
    expect(code(() => scaledDecimal("NaN", 1))).toBe("MDM_UNSUPPORTED_VALUE");
  });

  test("writers refuse what the DuckDB column cannot hold exactly", () => {
    expect(code(() => writerFor(INTEGER)(2n ** 31n))).toBe("MDM_UNSUPPORTED_VALUE");
    expect(writerFor(INTEGER)(-(2n ** 31n))).toBe(-(2 ** 31));
    expect(code(() => writerFor(UBIGINT)(-1n))).toBe("MDM_UNSUPPORTED_VALUE");
    expect(writerFor(UBIGINT)("18446744073709551615")).toBe(18446744073709551615n);
    expect(code(() => writerFor(FLOAT)(0.1))).toBe("MDM_UNSUPPORTED_VALUE");
    expect(writerFor(FLOAT)(0.5)).toBe(0.5);
    expect(code(() => writerFor(DECIMAL(4, 2))("100"))).toBe("MDM_UNSUPPORTED_VALUE");
    expect(code(() => writerFor(TIMESTAMP_MS)(new SqlTimestamp(1001n)))).toBe("MDM_UNSUPPORTED_VALUE");
    expect((writerFor(TIMESTAMP_MS)(new SqlTimestamp(2000n)) as DuckDBTimestampMillisecondsValue).millis).toBe(2n);
    expect(writerFor(BIGINT)(null)).toBeNull();
    expect(writerFor(VARCHAR)("a\u0000b")).toBe("a\u0000b");
  });

  test("JSON maps to DuckDB's JSON type and reads back as json", () => {
    expect(duckdbTypeSql({ name: "j", type: "json" })).toBe("JSON");
    expect(duckdbTypeSql({ name: "d", type: "decimal", precision: 38, scale: 0 })).toBe("DECIMAL(38,0)");
    expect(duckdbTypeSql({ name: "d", type: "decimal", precision: 39, scale: 0 })).toBe("VARCHAR");
    expect(readerFor({ typeId: DuckDBTypeId.UUID } as never)("x" as never)).toBe("x");
  });

  test("infinite dates and timestamps have no value in the model: reading them is MDM_UNSUPPORTED_VALUE", async () => {
    const home = tempHome();
    const backend = new DuckdbStorageBackend({ homeDir: home.dir, duckdb: { memoryLimit: "1GB" } });
    try {
      await backend.createDataset("inf");
      const engine = await backend.getDatasetEngine("inf");
      for (const sql of ["SELECT 'infinity'::DATE", "SELECT '-infinity'::TIMESTAMP", "SELECT 'infinity'::TIMESTAMPTZ", "SELECT 'infinity'::TIMESTAMP_MS"]) {
        const error = await backend.query(sql, [], engine).catch((e) => e);
        expect(isMdmError(error, "MDM_UNSUPPORTED_VALUE"), sql).toBe(true);
      }
      expect((await backend.query("SELECT TIMESTAMP_MS '2024-01-01 00:00:00.123' AS t", [], engine)).rows[0]!.t).toEqual(SqlTimestamp.parse("2024-01-01 00:00:00.123"));
    } finally {
      await backend.close();
      home.cleanup();
    }
  });
});
