// @mdm/testing/vitest: the conformance suite as vitest describe/it blocks, with everything the main entry has.
export * from "./index.js";
export { defineConformanceSuite } from "./conformance.js";
