import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCodes, isMdmError } from "../../errors.js";
import { type ColumnDef, type FileFormat, type Value } from "../../types.js";
import { check, checkEqual, checkRows, rejectsWith } from "../assert.js";
import { arrays, defineCheck, frame, openDataset, sampleFrame, type ConformanceCheck } from "./support.js";

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
          await rejectsWith(() => backend.exportFile("source", file, format, { engine }), ErrorCodes.UNSUPPORTED_OPERATION, `exportFile(${format}) not declared`);
          await rejectsWith(() => backend.importFile(`copy_${format}`, file, format, { engine }), ErrorCodes.UNSUPPORTED_OPERATION, `importFile(${format}) not declared`);
          continue;
        }
        await backend.exportFile("source", file, format, { engine });
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
