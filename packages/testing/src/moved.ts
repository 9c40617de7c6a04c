import { MdmError, ErrorCodes } from "@mdm/storage-core";
import type { ConformanceOptions } from "./checks-entry.js";

/**
 * Moved to `@mdm/testing/vitest`, so that this entry loads without vitest. Kept here to say so: calling it
 * throws, naming the import that works.
 */
export function defineConformanceSuite(_options: ConformanceOptions): never {
  throw new MdmError(ErrorCodes.UNSUPPORTED_OPERATION, 'defineConformanceSuite is imported from "@mdm/testing/vitest" (the main entry of @mdm/testing does not load vitest)');
}
