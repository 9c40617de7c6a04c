// A downstream application that installed @mdm/storage-core and @mdm/storage-sqlite-legacy only (no
// @mdm/storage-sqlite). gradual-rollout.ts copies this file into such an application directory and runs
// it with plain `node`, without NODE_PATH, so the new package really cannot be found.
// Usage: node legacy-only-app.mjs <mdm-home>
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { StorageBackendManager, isMdmError } from "@mdm/storage-core";

const home = process.argv[2];
const app = dirname(fileURLToPath(import.meta.url));
const manager = new StorageBackendManager({ homeDir: home, resolveFrom: [app], env: {} });
try {
  manager.flags.set("use_new_storage_sqlite", true);
  manager.onFallback((e) => console.log(`onFallback listener: new ${e.backendType} could not start (${e.code})`));
  const backend = await manager.getStorageBackend("sqlite");
  console.log(`use_new_storage_sqlite=true, auto_fallback=${manager.flags.get("auto_fallback")}: getStorageBackend("sqlite") -> ${backend.constructor.name} (${backend.implementation})`);
  for (const e of manager.fallbacks()) console.log(`Recorded fallback: ${e.timestamp} ${e.backendType} ${e.code}: ${e.message}`);
  await backend.createDataset("still_works", { metadata: { note: "written by legacy after the fallback" } });
  console.log(`Legacy keeps working: datasets ${JSON.stringify(await backend.listDatasets())}`);

  await manager.clearCache();
  manager.flags.set("auto_fallback", false);
  try {
    await manager.getStorageBackend("sqlite");
    throw new Error("expected the missing package to fail without auto_fallback");
  } catch (error) {
    if (!isMdmError(error)) throw error;
    console.log(`auto_fallback=false: getStorageBackend("sqlite") fails with ${error.code}`);
  }
} finally {
  await manager.clearCache();
}
