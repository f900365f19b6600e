import { readdirSync } from "node:fs";
import { defineConfig } from "vitest/config";

// Three tiers, chosen by what a test starts (docs/internals/testing.md#tiers). A new file joins a tier by its
// folder; the lists below name only the exceptions.

type Tier = "unit" | "integration" | "system" | "faults";

/** Folders whose files start nothing: no Redis, no database, no server process. */
const UNIT_FOLDERS = ["tests/lib/", "tests/config/", "tests/docs/"];
/** Real processes (the built dist/), proxies, Chromium. */
const SYSTEM_FOLDERS = ["tests/system/", "tests/process/"];
/** Redis (or SMTP, a disk, a worker) broken on purpose under clients that time what they notice. */
const FAULT_FOLDERS = ["tests/faults/"];
/** Files outside the unit folders that start nothing either. */
const UNIT_FILES = [
  "tests/domain/auth/device-cookie.test.ts",
  "tests/domain/auth/password.test.ts",
  "tests/domain/cache/cache-errors.test.ts",
  "tests/domain/session/session-extension.test.ts",
  "tests/infra/jobs/jobs-memory.test.ts",
  "tests/process/railway-iac.test.ts",
  "tests/process/signals.test.ts",
];
/**
 * Fault files that time nothing a client notices (what was restored, logged, evicted or retried): they
 * run with the other system files, two at a time, not alone at the end.
 */
const UNTIMED_FAULT_FILES = [
  "tests/faults/mail-outbox-disk.test.ts",
  "tests/faults/redis-boot.test.ts",
  "tests/faults/redis-memory.test.ts",
  "tests/faults/session-durable.test.ts",
];
/** Files in the unit folders that build the app on the shared Redis and database. */
const INTEGRATION_FILES = [
  "tests/config/config-sections.test.ts",
  "tests/config/deploy-config.test.ts",
  "tests/docs/http-api.test.ts",
];

function tierOf(file: string): Tier {
  if (UNIT_FILES.includes(file)) return "unit";
  if (INTEGRATION_FILES.includes(file)) return "integration";
  if (UNTIMED_FAULT_FILES.includes(file)) return "system";
  if (UNIT_FOLDERS.some((folder) => file.startsWith(folder))) return "unit";
  if (SYSTEM_FOLDERS.some((folder) => file.startsWith(folder))) return "system";
  if (FAULT_FOLDERS.some((folder) => file.startsWith(folder))) return "faults";
  return "integration";
}

const testFiles = readdirSync("tests", { recursive: true, encoding: "utf8" })
  .map((path) => `tests/${path.replaceAll("\\", "/")}`)
  .filter((path) => path.endsWith(".test.ts"))
  .sort();
const filesOf = (tier: Tier) => testFiles.filter((file) => tierOf(file) === tier);

export default defineConfig({
  test: {
    pool: "forks",
    // Unit and integration files: four at a time on two cores. Their files mostly wait on Redis, the
    // database and timers: with two at a time the machine stood half idle (93 s; four: 60 to 66 s).
    maxWorkers: 4,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Closes what the fixtures opened for each file (tests/helpers/fixtures.ts).
    setupFiles: ["tests/helpers/file-setup.ts"],
    // The tiers run one after another (groupOrder), so system tests never share the machine with the others.
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: filesOf("unit"),
          // A worker imports the server once for all its files, not once per file (file-setup.ts undoes
          // what a file leaves behind).
          isolate: false,
          // Beside the integration files (unit files start nothing they could notice): one pool for both.
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: filesOf("integration"),
          isolate: false,
          // One redis-server and one migrated database schema per tier (tests/helpers/fixtures.ts).
          globalSetup: ["tests/helpers/global-setup.ts"],
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: "system",
          include: filesOf("system"),
          // Spawned servers run the built dist/, as `npm start` does: built first when a source is newer.
          globalSetup: ["tests/helpers/build-dist.ts", "tests/helpers/global-setup.ts"],
          // Two files at a time: most of a system file is waiting on processes it started. Each file
          // starts its own servers, ports and Redis databases; none times anything tighter than seconds.
          maxWorkers: 2,
          isolate: false,
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          name: "faults",
          include: filesOf("faults"),
          globalSetup: ["tests/helpers/build-dist.ts", "tests/helpers/global-setup.ts"],
          // They stop, freeze and fill Redis and time what clients notice: one file at a time, alone on
          // the machine, after every other tier.
          fileParallelism: false,
          isolate: false,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
