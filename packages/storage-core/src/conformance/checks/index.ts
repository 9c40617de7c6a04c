import { checksumChecks } from "./checksum.js";
import { datasetChecks } from "./datasets.js";
import { engineChecks } from "./engine.js";
import { fidelityChecks } from "./fidelity.js";
import { holdChecks } from "./hold.js";
import { infoChecks } from "./info.js";
import { lifecycleChecks } from "./lifecycle.js";
import { maintenanceChecks } from "./maintenance.js";
import { metadataChecks } from "./metadata.js";
import { nameChecks } from "./names.js";
import { readChecks } from "./reads.js";
import { sqlChecks } from "./sql.js";
import { stagingChecks } from "./staging.js";
import { streamingChecks } from "./streaming.js";
import type { ConformanceCheck } from "./support.js";
import { tableChecks } from "./tables.js";

/** Every check of the conformance suite, in the order the suite registers them. */
export const conformanceChecks: readonly ConformanceCheck[] = Object.freeze([
  ...lifecycleChecks,
  ...datasetChecks,
  ...tableChecks,
  ...readChecks,
  ...streamingChecks,
  ...checksumChecks,
  ...infoChecks,
  ...metadataChecks,
  ...sqlChecks,
  ...engineChecks,
  ...stagingChecks,
  ...holdChecks,
  ...nameChecks,
  ...maintenanceChecks,
  ...fidelityChecks,
]);

{
  const seen = new Set<string>();
  for (const check of conformanceChecks) {
    if (seen.has(check.title)) throw new Error(`Two conformance checks are titled ${JSON.stringify(check.title)}`);
    seen.add(check.title);
  }
}

export type { ConformanceCheck } from "./support.js";
