// The conformance checks as plain async functions, the fidelity fixtures and a runner, without any test
// runner. Exported from @mdm/storage-core as the `conformance` namespace, so that @mdm/testing (the
// vitest suite) and @mdm/migration (StorageValidator) share one set of checks while depending on core only.
export { ConformanceFailure, check, checkDeepEqual, checkEqual, checkRows, rejectsWith } from "./assert.js";
export * from "./fixtures.js";
export * from "./runner.js";
export { conformanceChecks, type ConformanceCheck } from "./checks/index.js";
export { checkFidelity, describeFidelityFailures, fidelityCheckTitle, type FidelityOutcome, type FidelityReport, type FidelityValueResult } from "./checks/fidelity.js";
export { HOSTILE_DATASET_NAMES, HOSTILE_TABLE_NAMES } from "./checks/names.js";
export { EVERY_TYPE_COLUMNS, defineCheck } from "./checks/support.js";
export { SYNCHRONOUS_MEMBERS, everyAsyncCall } from "./checks/lifecycle.js";
