import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DIST = join(PACKAGE_DIR, "dist");

let snapshot: Promise<{ esm: string; cjs: string }> | undefined;

function sizes(): string | undefined {
  try {
    return ["index.js", "index.cjs"].map((f) => statSync(join(DIST, f)).size).join(",");
  } catch {
    return undefined;
  }
}

/**
 * A private copy of this package's built ESM and CJS entries (the published shape, loaded as a
 * consumer would). Other people rebuild core while tests run (tsup empties dist first), so wait until
 * both files exist and stop growing, copy them once, and use the copy for the whole test file.
 */
export function coreDist(): Promise<{ esm: string; cjs: string }> {
  snapshot ??= (async () => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const before = sizes();
      await new Promise((r) => setTimeout(r, 300));
      if (before !== undefined && before === sizes()) break;
      if (Date.now() > deadline) throw new Error(`${DIST} has no complete build: run "pnpm --filter @mdm/storage-core build"`);
    }
    const dir = mkdtempSync(join(tmpdir(), "mdm-core-dist-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "@mdm/storage-core", type: "module" }));
    copyFileSync(join(DIST, "index.js"), join(dir, "index.js"));
    copyFileSync(join(DIST, "index.cjs"), join(dir, "index.cjs"));
    // The builds keep `yaml` external: let them find this package's copy.
    mkdirSync(join(dir, "node_modules"));
    const yaml = join(PACKAGE_DIR, "node_modules", "yaml");
    if (existsSync(yaml)) symlinkSync(yaml, join(dir, "node_modules", "yaml"), "dir");
    return { esm: join(dir, "index.js"), cjs: join(dir, "index.cjs") };
  })();
  return snapshot;
}
