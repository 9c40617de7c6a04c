import { defineConformanceSuite, MemoryStorageBackend } from "../src/vitest.js";

// The suite against the in-memory reference backend: proves the suite passes on a correct backend.
defineConformanceSuite({
  name: "memory (reference)",
  createBackend: () => ({ backend: new MemoryStorageBackend() }),
});
