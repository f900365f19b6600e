import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { freePort } from "../helpers/ports.js";
import { watch } from "../helpers/processes.js";

const SECRET = "npm-start-test-secret-0123456789abcdef";

/** Pids of every process still in process group `pgid` (zombies excluded). */
function groupMembers(pgid: number): number[] {
  const out = execFileSync("ps", ["-e", "-o", "pid=,pgid=,stat="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, group, stat]) => Number(group) === pgid && !stat?.startsWith("Z"))
    .map(([pid]) => Number(pid));
}

interface NpmStart {
  url: string;
  npm: ChildProcess;
  pgid: number;
  output(): string;
  exited: Promise<void>;
}

/** `npm start` in a process group of its own, as a platform runs it; resolves once the server listens. */
async function npmStart(env: Record<string, string>): Promise<NpmStart> {
  const port = await freePort();
  const npm = spawn("npm", ["start"], {
    detached: true,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      NODE_ENV: "test",
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "info",
      SESSION_SECRET: SECRET,
      SHUTDOWN_DELAY_MS: "300",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc = watch(npm);
  started.push(npm.pid as number);
  await proc.waitForLog('"msg":"listening"');
  const exited = proc.exited.then(() => undefined);
  return { url: `http://127.0.0.1:${port}`, npm, pgid: npm.pid as number, output: proc.output, exited };
}

const started: number[] = [];
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterEach(() => {
  for (const pgid of started.splice(0)) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

afterAll(async () => {
  await database?.close();
});

describe("npm start", () => {
  it("runs the built server without compiling it", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8"));
    expect(pkg.scripts.prestart).toBeUndefined();
    expect(pkg.scripts.start).toMatch(/node dist\/server\/main\.js$/);
  });

  it("the operator commands run from the build alone, without the TypeScript loader", () => {
    for (const cli of ["dist/server/process/cli/ops.js", "dist/server/process/cli/cache.js"]) {
      const run = spawnSync(process.execPath, [cli], {
        env: { PATH: process.env.PATH ?? "" },
        encoding: "utf8",
      });
      expect(run.status).toBe(2);
      expect(run.stdout + run.stderr).toMatch(/usage:/);
    }
  });

  it("with no services configured, a forgot-password request puts the reset link in the log, and it works", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "npm-start-mail-"));
    try {
      const run = await npmStart({ DATA_DIR: dataDir, PASSWORD_SCRYPT_LOG_N: "10" });
      const post = (path: string, body: unknown) =>
        fetch(`${run.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const email = "walk-through@example.com";
      expect((await post("/auth/register", { email, password: "first password" })).status).toBe(201);
      expect((await post("/auth/password/forgot", { email })).status).toBe(202);
      let link = "";
      await vi.waitFor(
        () => {
          const found = run
            .output()
            .match(/http:\/\/localhost:\d+\/password\/reset\?token=[A-Za-z0-9_-]{43}/);
          expect(found).not.toBeNull();
          link = (found as RegExpMatchArray)[0];
        },
        { timeout: 15_000, interval: 100 },
      );
      const token = new URL(link).searchParams.get("token");
      expect((await post("/auth/password/reset", { token, newPassword: "second password" })).status).toBe(
        204,
      );
      expect((await post("/auth/login", { email, password: "second password" })).status).toBe(200);
      // The request log line of the reset page's URL would hold only the path.
      expect(run.output()).not.toMatch(/"path":"[^"]*token/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("a SIGTERM to npm alone ends in the server's graceful shutdown, with nothing left running", async () => {
    const run = await npmStart(database.env);
    const members = groupMembers(run.pgid);
    expect(members).toContain(run.pgid);
    expect(members.length).toBeGreaterThan(1); // npm and the node server

    process.kill(run.pgid, "SIGTERM"); // the npm process only, as a platform signals its main process
    await run.exited;
    await vi.waitFor(
      () => {
        expect(groupMembers(run.pgid)).toEqual([]);
        expect(run.output()).toContain('"msg":"stopped"');
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(run.output()).toMatch(/"signal":"SIGTERM".*"msg":"shutting down: readiness now fails"/);
  });

  it("a server whose npm parent is killed outright shuts down gracefully instead of running orphaned", async () => {
    const run = await npmStart(database.env);
    const server = groupMembers(run.pgid).filter((pid) => pid !== run.pgid);
    expect(server.length).toBeGreaterThan(0);

    process.kill(run.pgid, "SIGKILL"); // npm cannot pass anything on
    // The server's last lines reach our end of the pipe after it has gone: wait for both.
    await vi.waitFor(
      () => {
        expect(groupMembers(run.pgid)).toEqual([]);
        expect(run.output()).toContain('"msg":"stopped"');
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(run.output()).toContain('"msg":"parent process has gone without stopping this one"');
  });
});
