import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const SOURCES = ["server", "shared"];
const BUILT = "dist/server/main.js";

function newestSource(): number {
  let newest = Math.max(statSync("tsconfig.build.json").mtimeMs, statSync("package-lock.json").mtimeMs);
  for (const root of SOURCES) {
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root, { recursive: true, encoding: "utf8" })) {
      newest = Math.max(newest, statSync(join(root, entry)).mtimeMs);
    }
  }
  return newest;
}

/**
 * The system tier's processes run the built dist/ (as `npm start` does): build it when a source file is
 * newer than the build (`npm ci` builds it through `prepare`, so a fresh clone skips this).
 */
export default function setup() {
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= newestSource()) return;
  const tsc = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
    stdio: "inherit",
  });
  if (tsc.status !== 0)
    throw new Error("building dist/ for the system tier failed (tsc -p tsconfig.build.json)");
}
