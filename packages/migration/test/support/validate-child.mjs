// StorageValidator outside a test runner (as the CLI runs it): nothing keeps Node's event loop alive
// but the validator's own work, so a check that waits on an unref'd timer would let the process exit early.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageBackendManager } from "@mdm/storage-core";
import { backendFactory } from "@mdm/storage-duckdb-legacy";
import { StorageValidator } from "../../dist/index.js";

const home = mkdtempSync(join(tmpdir(), "mdm-validate-child-"));
const manager = new StorageBackendManager({ homeDir: home, env: {} });
manager.register(backendFactory);
let finished = false;
process.on("beforeExit", () => {
  if (!finished) console.log("event loop drained before the validator finished");
});
const report = await new StorageValidator({ type: "duckdb", implementation: "legacy" }, { manager, performanceRows: 2000 }).validateAll();
finished = true;
rmSync(home, { recursive: true, force: true });
console.log(`DONE ${report.passed.length} passed, ${report.failed.length} failed`);
process.exitCode = report.failed.length === 0 ? 0 : 1;
