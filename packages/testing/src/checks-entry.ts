// The conformance checks, fixtures and runner live in @mdm/storage-core (its `conformance` namespace), so
// that the validator of @mdm/migration shares them while depending on core only. They are re-exported
// here under their own names for the users of @mdm/testing.
import { conformance } from "@mdm/storage-core";

export { conformance };
export const {
  ConformanceFailure,
  checkDeepEqual,
  checkEqual,
  checkRows,
  rejectsWith,
  fidelityFixtures,
  expectedOutcome,
  columnMayBeRefused,
  fidelityFixtureNames,
  getFidelityFixture,
  longText,
  conformanceChecks,
  checkFidelity,
  describeFidelityFailures,
  fidelityCheckTitle,
  HOSTILE_DATASET_NAMES,
  HOSTILE_TABLE_NAMES,
  EVERY_TYPE_COLUMNS,
  defineCheck,
  conformanceCheckTitles,
  runCheck,
  runConformanceChecks,
  resolveSkips,
  validateConformanceOptions,
  withConformanceBackend,
} = conformance;
export type ConformanceFailure = InstanceType<typeof ConformanceFailure>;
export type ConformanceCheck = conformance.ConformanceCheck;
export type ConformanceSkip = conformance.ConformanceSkip;
export type CheckResult = conformance.CheckResult;
export type ConformanceReport = conformance.ConformanceReport;
export type CreateConformanceBackend = conformance.CreateConformanceBackend;
export type ConformanceOptions = conformance.ConformanceOptions;
export type ConformanceTarget = conformance.ConformanceTarget;
export type FidelityFixture = conformance.FidelityFixture;
export type FidelityValue = conformance.FidelityValue;
export type FidelityExpectation = conformance.FidelityExpectation;
export type FidelityOutcome = conformance.FidelityOutcome;
export type FidelityReport = conformance.FidelityReport;
export type FidelityValueResult = conformance.FidelityValueResult;
export type ValueCapability = conformance.ValueCapability;
export { MemoryStorageBackend, MemoryStore, type MemoryBackendOptions, type MemoryDatabase, type MemoryEngine, type MemorySession } from "./memory-backend.js";
