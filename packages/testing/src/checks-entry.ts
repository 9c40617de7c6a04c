// `@mdm/testing/checks`: the conformance checks, fixtures and runner without vitest, for tools
// (a validator, a CLI) that run the checks outside a test runner.
export { ConformanceFailure, checkDeepEqual, checkEqual, checkRows, rejectsWith } from "./assert.js";
export * from "./fixtures.js";
export * from "./runner.js";
export { conformanceChecks, type ConformanceCheck } from "./checks/index.js";
export { checkFidelity, describeFidelityFailures, fidelityCheckTitle, type FidelityOutcome, type FidelityReport, type FidelityValueResult } from "./checks/fidelity.js";
export { HOSTILE_DATASET_NAMES, HOSTILE_TABLE_NAMES } from "./checks/names.js";
export { EVERY_TYPE_COLUMNS, defineCheck } from "./checks/support.js";
export { MemoryStorageBackend, MemoryStore, type MemoryBackendOptions, type MemoryDatabase, type MemoryEngine, type MemorySession } from "./memory-backend.js";
