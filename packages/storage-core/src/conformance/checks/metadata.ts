import { ErrorCodes } from "../../errors.js";
import { type Metadata } from "../../types.js";
import { check, checkDeepEqual, checkEqual, rejectsWith } from "../assert.js";
import { DATASET, defineCheck, openDataset, type ConformanceCheck } from "./support.js";

const G = "metadata";

export const metadataChecks: ConformanceCheck[] = [
  defineCheck(G, "getMetadata returns what createDataset stored, with dataset_name, backend_type and created_at", async (backend) => {
    await backend.createDataset(DATASET, { metadata: { description: "titanic", target: "survived" } });
    const meta = await backend.getMetadata(DATASET);
    checkEqual(meta.dataset_name, DATASET, "dataset_name");
    checkEqual(meta.backend_type, backend.backendType, "backend_type");
    check(typeof meta.created_at === "string" && !Number.isNaN(Date.parse(meta.created_at)), `created_at must be an ISO date, got ${JSON.stringify(meta.created_at)}`);
    checkEqual(meta.description, "titanic", "description");
    checkEqual(meta.target, "survived", "target");
  }),

  defineCheck(G, "updateMetadata merges: given keys replaced or added, other keys kept", async (backend) => {
    await backend.createDataset(DATASET, { metadata: { description: "old", keep: 1 } });
    await backend.updateMetadata(DATASET, { description: "new", added: [1, 2] });
    await backend.updateMetadata(DATASET, { more: true });
    const meta = await backend.getMetadata(DATASET);
    checkEqual(meta.description, "new", "replaced key");
    checkEqual(meta.keep, 1, "kept key");
    checkDeepEqual(meta.added, [1, 2], "added key");
    checkEqual(meta.more, true, "key of the second update");
    checkEqual(meta.dataset_name, DATASET, "dataset_name is kept by updates");
    await backend.updateMetadata(DATASET, {});
    checkDeepEqual(await backend.getMetadata(DATASET), meta, "an empty update changes nothing");
  }),

  defineCheck(G, "metadata keeps JSON values: nested objects, arrays, numbers, booleans, null, unicode, quotes", async (backend) => {
    await openDataset(backend);
    const values: Metadata = {
      nested: { a: { b: [1, 2.5, -3, { c: null }] } },
      list: ["x", "y"],
      number: 12345.678,
      zero: 0,
      negative: -1,
      yes: true,
      no: false,
      nothing: null,
      empty: "",
      text: "😀 مرحبا e\u0301 a\u2028b",
      quotes: `it's "quoted" \\ back`,
      "key with spaces and 'quotes'": "v",
    };
    await backend.updateMetadata(DATASET, values);
    const meta = await backend.getMetadata(DATASET);
    for (const [key, value] of Object.entries(values)) checkDeepEqual(meta[key], value, `metadata ${JSON.stringify(key)}`);
  }),

  defineCheck(G, "metadata with SQL in keys and values is stored literally", async (backend) => {
    const engine = await openDataset(backend);
    await backend.createTableFromDataFrame([{ id: 1n }], "x", engine);
    const hostile = "'); DROP TABLE x; --";
    await backend.updateMetadata(DATASET, { description: hostile, [hostile]: hostile });
    const meta = await backend.getMetadata(DATASET);
    checkEqual(meta.description, hostile, "value with SQL");
    checkEqual(meta[hostile], hostile, "key with SQL");
    checkEqual(await backend.tableExists("x", engine), true, "table x survives");
  }),

  defineCheck(G, "updateMetadata refuses non-objects and values that are not JSON with MDM_INVALID_ARGUMENT", async (backend) => {
    await openDataset(backend);
    await rejectsWith(() => backend.updateMetadata(DATASET, null as never), ErrorCodes.INVALID_ARGUMENT, "updateMetadata(null)");
    await rejectsWith(() => backend.updateMetadata(DATASET, [1] as never), ErrorCodes.INVALID_ARGUMENT, "updateMetadata([1])");
    await rejectsWith(() => backend.updateMetadata(DATASET, { big: 1n } as never), ErrorCodes.INVALID_ARGUMENT, "a bigint value");
    const meta = await backend.getMetadata(DATASET);
    check(!("big" in meta), "a refused update leaves no key behind");
  }),
];
