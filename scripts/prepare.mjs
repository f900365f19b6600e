// `npm ci` runs this: a development install (TypeScript present) builds dist/ so that `npm start` can run
// node directly; a production install (`npm ci --omit=dev`, dist/ copied in) has nothing to build.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve("typescript/bin/tsc");
} catch {
  process.stderr.write("prepare: TypeScript is not installed (production install): not building\n");
  process.exit(0);
}
const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
process.exit(result.status ?? 1);
