// @mdm/cli: the `mdm` command. The binary is dist/bin.js; this entry exposes the same program for tools
// that run it in process, plus the pieces other tools may reuse (exit codes, type inference of text files).
export { main, cliVersion } from "./cli.js";
export { ExitCodes, exitCodeOf, type ExitCode } from "./exit-codes.js";
export { ColumnInference, fieldConverter, isCanonicalInt64, isLosslessFloat, problemTypeOf } from "./files/infer.js";
export { csvText } from "@mdm/storage-core";
export { discoverDataFiles, type DataFile, type DataFormat } from "./files/discover.js";
export type { DatasetInfo, DatasetListItem } from "./commands/dataset.js";
