import type { Options } from "tsup";

/**
 * One build preset for every published package: ESM + CJS with declarations for both.
 * Dependencies and peers (drivers, @mdm/*) stay external; a native driver is never bundled.
 */
export function preset(entry: Record<string, string> = { index: "src/index.ts" }): Options {
  return {
    entry,
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    platform: "node",
    splitting: false,
    treeshake: true,
  };
}
