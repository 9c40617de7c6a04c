// ESM entry of the downstream scenario: the @mdm packages through their "import" builds.
import * as core from "@mdm/storage-core";
import * as sqlite from "@mdm/storage-sqlite";
import * as duckdb from "@mdm/storage-duckdb";
import * as migration from "@mdm/migration";
import * as testing from "@mdm/testing";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const { run } = require("./scenario.cjs");
await run({
  format: "esm",
  core,
  otherCore: require("@mdm/storage-core"), // the CJS build of the same copy
  sqlite,
  duckdb,
  migration,
  testing,
  projectDir: process.cwd(),
  importFrom: async (dir, spec) => import(pathToFileURL(createRequire(join(dir, "package.json")).resolve(spec)).href),
});
