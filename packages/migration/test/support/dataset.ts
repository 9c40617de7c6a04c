/** A multi-table dataset with every logical type, written into a source backend. */
import { SqlDate, SqlTimestamp, TableChecksum, type ColumnDef, type IStorageBackend, type Value } from "@mdm/storage-core";

export const ALL_TYPES: ColumnDef[] = [
  { name: "id", type: "int64" },
  { name: "big", type: "int64" },
  { name: "x", type: "float64" },
  { name: "amount", type: "decimal", precision: 18, scale: 4 },
  { name: "label", type: "text" },
  { name: "flag", type: "boolean" },
  { name: "raw", type: "blob" },
  { name: "day", type: "date" },
  { name: "at", type: "timestamp" },
  { name: "at_utc", type: "timestamptz" },
  { name: "doc", type: "json" },
];

/** Deterministic rows covering edge values every engine holds (NaN, -0 and NUL are tested separately). */
export function allTypesRow(i: number): Value[] {
  const edge = i % 7;
  return [
    BigInt(i),
    edge === 0 ? 9_223_372_036_854_775_807n - BigInt(i) : edge === 1 ? -(2n ** 63n) + BigInt(i) : 2n ** 53n + BigInt(i),
    edge === 2 ? Number.POSITIVE_INFINITY : edge === 3 ? 5e-324 : i / 3,
    edge === 4 ? "-99999999999999.9999" : `${i}.${String(i % 10000).padStart(4, "0")}`,
    edge === 5 ? "" : edge === 6 ? null : `row ${i} ünïcødé 😀 "quoted" 'single'`,
    i % 3 === 0 ? null : i % 2 === 0,
    edge === 0 ? new Uint8Array(0) : Uint8Array.from([i % 256, 0, 255, (i * 7) % 256]),
    new SqlDate(-1000 + (i % 5000)),
    new SqlTimestamp(-315_619_200_000_000n + BigInt(i) * 1_000_003n),
    new SqlTimestamp(1_700_000_000_000_000n + BigInt(i) * 7n),
    edge === 3 ? null : JSON.stringify({ i, nested: { ok: true }, list: [1, 2.5, "x"] }),
  ];
}

export function* rows(count: number, columns: (i: number) => Value[], batch = 1000): Generator<Value[][]> {
  for (let start = 0; start < count; start += batch) {
    const out: Value[][] = [];
    for (let i = start; i < Math.min(count, start + batch); i++) out.push(columns(i));
    yield out;
  }
}

/** train (n rows), test (0 rows), validation (exact multiple of the batch), train_features, _columns. */
export async function writeDataset(backend: IStorageBackend, name: string, sizes: { train: number; validation: number } = { train: 1234, validation: 300 }): Promise<void> {
  await backend.createDataset(name, { metadata: { description: "migration fixture", target: "flag", id_columns: ["id"], version: 3 } });
  const engine = await backend.getDatasetEngine(name);
  await backend.writeBatches("train", ALL_TYPES, rows(sizes.train, allTypesRow), { engine });
  await backend.writeBatches("test", ALL_TYPES, [], { engine });
  await backend.writeBatches("validation", ALL_TYPES, rows(sizes.validation, (i) => allTypesRow(i + 100_000)), { engine });
  const features: ColumnDef[] = [
    { name: "id", type: "int64" },
    { name: "x_squared", type: "float64" },
  ];
  await backend.writeBatches("train_features", features, rows(sizes.train, (i) => [BigInt(i), (i / 3) ** 2]), { engine });
  const columnsTable: ColumnDef[] = [
    { name: "column_name", type: "text" },
    { name: "data_type", type: "text" },
    { name: "is_target", type: "boolean" },
  ];
  await backend.writeBatches("_columns", columnsTable, [ALL_TYPES.map((c) => [c.name, c.type, c.name === "flag"])], { engine });
}

/** Count and checksum of every table (system tables included, _metadata excluded). */
export async function fingerprint(backend: IStorageBackend, name: string): Promise<Record<string, { count: number; hash: string; columns: string[] }>> {
  const engine = await backend.getDatasetEngine(name);
  const out: Record<string, { count: number; hash: string; columns: string[] }> = {};
  for (const table of await backend.getTableNames(engine, { includeSystem: true })) {
    if (table === "_metadata") continue;
    const info = await backend.getTableInfo(table, engine);
    const sum = new TableChecksum(info.columns);
    for await (const batch of backend.readBatches(table, { engine })) sum.addAll(batch.rows);
    out[table] = { ...sum.toJSON(), columns: info.columns.map((c) => `${c.name}:${c.type}`) };
  }
  return out;
}
