// @mdm/testing: the conformance suite for vitest, the fidelity fixtures, the checks as plain
// functions and an in-memory reference backend. Everything but `defineConformanceSuite` is also
// available from `@mdm/testing/checks`, which does not import vitest.
export * from "./checks-entry.js";
export { defineConformanceSuite } from "./conformance.js";
export { MemoryStorageBackend, MemoryStore, type MemoryBackendOptions, type MemoryDatabase, type MemoryEngine, type MemorySession } from "./memory-backend.js";
export * from "./comparison/index.js";
