import { expect } from "vitest";
import { isMdmError, type MdmError } from "../../src/index.js";

/** The MdmError code a function throws, or undefined when it does not throw. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isMdmError(error) ? error.code : `not an MdmError: ${String(error)}`;
  }
  return undefined;
}

/** The MdmError code a promise (or an async function) rejects with, or "no error". */
export async function asyncCodeOf(work: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof work === "function" ? work() : work);
  } catch (error) {
    if (isMdmError(error)) return error.code;
    throw error;
  }
  return "no error";
}

/** The MdmError a call throws (the test fails when it throws nothing, or something else). */
export function errorOf(fn: () => unknown): MdmError {
  try {
    fn();
  } catch (error) {
    if (isMdmError(error)) return error;
    throw error;
  }
  return expect.unreachable("no error thrown") as never;
}
