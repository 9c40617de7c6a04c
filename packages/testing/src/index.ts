// @mdm/testing: the fidelity fixtures, the conformance checks as plain functions, an in-memory reference
// backend and the comparison tester. This entry does not import vitest (an optional peer): the vitest
// conformance suite, `defineConformanceSuite`, is on `@mdm/testing/vitest`.
export * from "./checks-entry.js";
export { MemoryStorageBackend, MemoryStore, type MemoryBackendOptions, type MemoryDatabase, type MemoryEngine, type MemorySession } from "./memory-backend.js";
export * from "./comparison/index.js";
export { defineConformanceSuite } from "./moved.js";
