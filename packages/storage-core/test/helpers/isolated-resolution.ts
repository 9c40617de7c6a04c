import { createRequire } from "node:module";
import { afterAll, beforeAll } from "vitest";

/**
 * pnpm's bin shims put `node_modules/.pnpm/node_modules` on NODE_PATH, which makes every workspace
 * package (@mdm/storage-duckdb, ...) resolvable from any directory. Tests about package resolution
 * must see only the packages they wrote, so NODE_PATH is cleared for this test file (each vitest
 * file runs in its own worker) and restored afterwards.
 */
export function isolateModuleResolution(): void {
  const Module = createRequire(import.meta.url)("node:module") as { _initPaths: () => void };
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.NODE_PATH;
    delete process.env.NODE_PATH;
    Module._initPaths();
  });
  afterAll(() => {
    if (saved !== undefined) process.env.NODE_PATH = saved;
    Module._initPaths();
  });
}
