import { describe, expect, it } from "vitest";
import { runProcess } from "../helpers/processes.js";

// Every entry point starts through boot(): the same .env, the same config check, the same fatal line.
const ENTRIES: Array<{ entry: string; role: string; args?: string[] }> = [
  { entry: "server/main.ts", role: "web" },
  { entry: "server/worker.ts", role: "mail worker" },
  { entry: "server/process/cli/migrate.ts", role: "cli migrate" },
  { entry: "server/process/cli/ops.ts", role: "cli ops", args: ["users", "enable", "someone@example.com"] },
  { entry: "server/process/cli/cache.ts", role: "cli cache", args: ["stats"] },
];

describe("boot(): one start-up for every entry point", () => {
  for (const { entry, role, args } of ENTRIES) {
    it(`${entry}: an invalid config is one fatal JSON line naming the role and every bad variable, exit 1`, async () => {
      const run = await runProcess(
        entry,
        { NODE_ENV: "test", DATABASE_POOL_MAX: "0", REDIS_URL: "not a url" },
        { args },
      );
      expect(run.code, run.output).toBe(1);
      const lines = run.output
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: "fatal", role });
      expect(lines[0]?.msg).toMatch(/^invalid configuration: /);
      const problems = lines[0]?.problems as string[];
      expect(problems.some((p) => p.startsWith("DATABASE_POOL_MAX"))).toBe(true);
      expect(problems.some((p) => p.startsWith("REDIS_URL"))).toBe(true);
    });
  }
});
