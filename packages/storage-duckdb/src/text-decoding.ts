import { createRequire } from "node:module";

/**
 * @duckdb/node-api decodes VARCHAR bytes with one shared `new TextDecoder()`, whose default
 * (ignoreBOM: false) silently drops a leading U+FEFF: the text "\uFEFFbom" is stored intact but
 * reads back as "bom". The decoder is an export of the bindings' data accessors, read at every
 * call, so it is replaced once by one that keeps the BOM. The version of @duckdb/node-api is
 * pinned; a test fails if a later version moves the decoder.
 */
export function keepByteOrderMarks(): boolean {
  try {
    const require = createRequire(typeof __filename === "string" ? __filename : import.meta.url);
    const accessors = require("@duckdb/node-api/lib/vectors/dataAccessors.js") as { textDecoder?: InstanceType<typeof TextDecoder> };
    if (!(accessors.textDecoder instanceof TextDecoder)) return false;
    if (!accessors.textDecoder.ignoreBOM) accessors.textDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
    return true;
  } catch {
    return false;
  }
}
