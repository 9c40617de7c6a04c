import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";
import { preset } from "../../tsup.preset";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

// The library entry and the binary (dist/bin.js keeps its shebang); the version is baked in.
export default defineConfig({ ...preset({ index: "src/index.ts", bin: "src/bin.ts" }), define: { __MDM_CLI_VERSION__: JSON.stringify(version) } });
