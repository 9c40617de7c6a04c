import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCodes, isMdmError } from "../../errors.js";
import { type ColumnDef, type FileFormat, type Value } from "../../types.js";
import { check, checkEqual, checkRows, rejectsWith } from "../assert.js";
import { arrays, defineCheck, EVERY_TYPE_COLUMNS, frame, openDataset, sampleFrame, type ConformanceCheck } from "./support.js";
import { csvValue, readCsvRecords } from "../csv-read.js";
import { SqlDate, SqlTimestamp } from "../../values.js";
import { readFile } from "node:fs/promises";

const G = "maintenance";
const FORMATS: FileFormat[] = ["parquet", "json", "csv"];

/** Without NULLs, empty strings or integral floats: values every file format keeps. */
const FILE_COLUMNS: ColumnDef[] = [
  { name: "id", type: "int64" },
  { name: "name", type: "text" },
  { name: "score", type: "float64" },
];
const FILE_ROWS: Value[][] = [
  [1n, "alpha", 1.5],
  [2n, "beta, with a comma", -2.25],
  [3n, 'gamma "quoted"', 0.125],
];

/** Every type, with the texts CSV must keep apart or spell out (NaN and -0.0 only where the backend holds them). */
function csvRows(capabilities: { nan: boolean; negativeZero: boolean }): Value[][] {
  const ts = (text: string) => SqlTimestamp.parse(text);
  return [
    [true, -(2n ** 63n), 1, "12345678901234.5678", "-0.000001", "", new Uint8Array([0, 255, 16]), SqlDate.parse("1969-12-31"), ts("1969-12-31 23:59:59.999999"), ts("1900-01-01 00:00:00"), '{"a": [1, 2]}'],
    [false, 2n ** 63n - 1n, capabilities.negativeZero ? -0 : -1.5, "-1.0000", "0.001", 'line\nbreak, "quoted"\r', new Uint8Array(), SqlDate.parse("2024-02-29"), ts("2024-02-29 12:00:00.000001"), ts("2038-01-19 03:14:08.5"), "[]"],
    [true, 0n, capabilities.nan ? NaN : 1e21, "0.0000", "123", "NULL", new Uint8Array([92, 120]), SqlDate.parse("1000-01-01"), ts("9999-12-31 23:59:59.999999"), ts("1970-01-01 00:00:00"), "null"],
    [false, 1n, 0.1 + 0.2, null, null, ",", null, null, null, null, null],
    [null, null, -Infinity, null, null, null, null, null, null, null, null],
    [null, null, 1.7976931348623157e308, null, null, null, null, null, null, null, null],
    [null, null, 5e-324, null, null, null, null, null, null, null, null],
  ];
}

/** Resolves with the call's result, or undefined when it rejected with MDM_UNSUPPORTED_OPERATION. */
async function unlessUnsupported<T>(call: () => Promise<T>): Promise<{ result: T } | undefined> {
  try {
    return { result: await call() };
  } catch (error) {
    if (isMdmError(error, ErrorCodes.UNSUPPORTED_OPERATION)) return undefined;
    throw error;
  }
}

export const maintenanceChecks: ConformanceCheck[] = [
  defineCheck(G, "optimize keeps the data (or fails with MDM_UNSUPPORTED_OPERATION)", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    await unlessUnsupported(() => backend.optimize(engine));
    checkEqual((await backend.getTableInfo("train", engine)).rowCount, 5, "rows after optimize()");
  }),

  defineCheck(G, "getDatabaseSize is a non-negative integer (or fails with MDM_UNSUPPORTED_OPERATION)", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    const size = await unlessUnsupported(() => backend.getDatabaseSize(engine));
    if (size) check(Number.isSafeInteger(size.result) && size.result >= 0, `getDatabaseSize() must be a non-negative integer, got ${size.result}`);
  }),

  defineCheck(G, "exportFile then importFile round-trips a table for each declared format (MDM_UNSUPPORTED_OPERATION for the others)", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(frame(FILE_COLUMNS, FILE_ROWS), "source", engine);
    const dir = await mkdtemp(join(tmpdir(), "mdm-conformance-"));
    try {
      for (const format of FORMATS) {
        const file = join(dir, `source.${format}`);
        if (!backend.capabilities.fileImportExport.includes(format)) {
          if (format === "csv") checkEqual(await backend.exportFile("source", file, format, { engine }), FILE_ROWS.length, "rows exportFile(csv) wrote");
          else await rejectsWith(() => backend.exportFile("source", file, format, { engine }), ErrorCodes.UNSUPPORTED_OPERATION, `exportFile(${format}) not declared`);
          await rejectsWith(() => backend.importFile(`copy_${format}`, file, format, { engine }), ErrorCodes.UNSUPPORTED_OPERATION, `importFile(${format}) not declared`);
          continue;
        }
        checkEqual(await backend.exportFile("source", file, format, { engine }), FILE_ROWS.length, `rows exportFile(${format}) wrote`);
        const count = await backend.importFile(`copy_${format}`, file, format, { engine });
        checkEqual(count, FILE_ROWS.length, `rows imported from ${format}`);
        const df = await backend.readTable(`copy_${format}`, { engine, orderBy: ["id"] });
        checkRows(FILE_COLUMNS, arrays(df, FILE_COLUMNS), FILE_ROWS, `rows imported from ${format}`);
        await rejectsWith(() => backend.importFile(`copy_${format}`, file, format, { engine }), ErrorCodes.TABLE_EXISTS, `importFile(${format}) onto an existing table`);
        await rejectsWith(() => backend.exportFile("missing", file, format, { engine }), ErrorCodes.TABLE_NOT_FOUND, `exportFile(${format}) of a missing table`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }),

  defineCheck(G, "exportFile(csv) works on every backend and writes every type as csvText says: NULL apart from the empty string, exact int64, float64, decimals and µs timestamps", async (backend) => {
    const engine = await openDataset(backend);
    const rows = csvRows(backend.capabilities.values);
    await backend.createTableFromDataFrame(frame(EVERY_TYPE_COLUMNS, rows), "every_type", engine);
    const dir = await mkdtemp(join(tmpdir(), "mdm-conformance-"));
    try {
      const file = join(dir, "every_type.csv");
      checkEqual(await backend.exportFile("every_type", file, "csv", { engine }), rows.length, "rows exportFile(csv) says it wrote");
      const [header, ...records] = readCsvRecords(await readFile(file, "utf8"));
      checkEqual(JSON.stringify(header), JSON.stringify(EVERY_TYPE_COLUMNS.map((c) => c.name)), "the CSV header");
      const read = records.map((record, r) => {
        checkEqual(record.length, EVERY_TYPE_COLUMNS.length, `fields in CSV record ${r}`);
        return EVERY_TYPE_COLUMNS.map((column, i) => {
          try {
            return csvValue(column, record[i] as string | null);
          } catch (error) {
            throw new Error(`CSV record ${r}, column ${column.name}: ${(error as Error).message}`);
          }
        });
      });
      const stored = arrays(await backend.readTable("every_type", { engine }), EVERY_TYPE_COLUMNS);
      checkRows(EVERY_TYPE_COLUMNS, read, stored, "exportFile(csv) read back against readTable");
      checkRows(EVERY_TYPE_COLUMNS, read, rows, "exportFile(csv) read back against the rows written");
      await rejectsWith(() => backend.exportFile("missing", join(dir, "missing.csv"), "csv", { engine }), ErrorCodes.TABLE_NOT_FOUND, "exportFile(csv) of a missing table");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }),

  defineCheck(G, "metrics are recorded on every operation when capabilities.metrics, and resetMetrics clears them", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame(sampleFrame(), "train", engine);
    await backend.readTable("train", { engine });
    const metrics = backend.getMetrics();
    check(Array.isArray(metrics), "getMetrics() must return an array");
    if (backend.capabilities.metrics) {
      check(metrics.length > 0, "getMetrics() must not be empty after operations when capabilities.metrics is true");
    } else {
      checkEqual(metrics.length, 0, "metrics recorded although capabilities.metrics is false");
    }
    backend.resetMetrics();
    checkEqual(backend.getMetrics().length, 0, "metrics after resetMetrics()");
  }),
];
