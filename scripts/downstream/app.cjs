// CommonJS entry of the downstream scenario: the @mdm packages through their "require" builds.
"use strict";
const { join } = require("node:path");
const { createRequire } = require("node:module");
const { pathToFileURL } = require("node:url");
const { run } = require("./scenario.cjs");

(async () => {
  await run({
    format: "cjs",
    core: require("@mdm/storage-core"),
    otherCore: await import("@mdm/storage-core"), // the ESM build of the same copy
    sqlite: require("@mdm/storage-sqlite"),
    duckdb: require("@mdm/storage-duckdb"),
    migration: require("@mdm/migration"),
    testing: require("@mdm/testing"),
    projectDir: process.cwd(),
    importFrom: async (dir, spec) => import(pathToFileURL(createRequire(join(dir, "package.json")).resolve(spec)).href),
    loadedCorePaths: () => Object.keys(require.cache).filter((file) => /[\\/]@mdm[\\/]storage-core[\\/]/.test(file)),
  });
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
