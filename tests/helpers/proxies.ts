import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, waitForPort } from "./ports.js";

const EXAMPLES = resolve(import.meta.dirname, "../../examples");

export interface RunningProcess {
  url: string;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** The first of `candidates` that exists, or undefined. */
export function findBinary(...candidates: string[]): string | undefined {
  return candidates.find((path) => existsSync(path));
}

/** The proxies the system tier drives (scripts/install-system-deps.sh installs them); undefined if missing. */
export const CADDY = findBinary("/usr/bin/caddy", "/usr/local/bin/caddy");
export const NGINX = findBinary("/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx");

/** The proxy's version line (`caddy version`, `nginx -v`), for the test's report. */
export function versionOf(binary: string, args: string[]): string {
  const result = spawnSync(binary, args, { encoding: "utf8", timeout: 5000 });
  return `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
}

async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; port: number; cleanup?: () => void },
): Promise<RunningProcess> {
  const child: ChildProcess = spawn(command, args, {
    env: { PATH: process.env.PATH ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    options.cleanup?.();
  };
  try {
    await Promise.race([
      waitForPort(options.port, 15_000),
      exited.then(() => {
        throw new Error(`${command} exited at start:\n${out}`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${options.port}`, port: options.port, output: () => out, stop };
}

/** examples/backend/server.mjs on a free loopback port. */
export async function startBackend(): Promise<RunningProcess> {
  const port = await freePort();
  return run(process.execPath, [join(EXAMPLES, "backend/server.mjs")], {
    env: { PORT: String(port), HOST: "127.0.0.1" },
    port,
  });
}

/** Caddy with examples/caddy/Caddyfile as it is (it reads its upstreams from the environment). */
export async function startCaddy(
  binary: string,
  upstreams: { auth: string; backend: string },
): Promise<RunningProcess> {
  const port = await freePort();
  const home = mkdtempSync(join(tmpdir(), "caddy-"));
  return run(binary, ["run", "--adapter", "caddyfile", "--config", join(EXAMPLES, "caddy/Caddyfile")], {
    env: {
      HOME: home,
      XDG_CONFIG_HOME: join(home, "config"),
      XDG_DATA_HOME: join(home, "data"),
      PORT: String(port),
      AUTH_UPSTREAM: upstreams.auth,
      BACKEND_UPSTREAM: upstreams.backend,
    },
    port,
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  });
}

/**
 * nginx with examples/nginx/nginx.conf, its ${PORT}, ${AUTH_UPSTREAM} and ${BACKEND_UPSTREAM} filled in
 * as the official image's template step does, inside a minimal main configuration of its own prefix.
 */
export async function startNginx(
  binary: string,
  upstreams: { auth: string; backend: string },
): Promise<RunningProcess> {
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), "nginx-"));
  mkdirSync(join(prefix, "logs"));
  const values: Record<string, string> = {
    PORT: `127.0.0.1:${port}`,
    AUTH_UPSTREAM: upstreams.auth,
    BACKEND_UPSTREAM: upstreams.backend,
  };
  const site = readFileSync(join(EXAMPLES, "nginx/nginx.conf"), "utf8").replace(
    /\$\{(PORT|AUTH_UPSTREAM|BACKEND_UPSTREAM)\}/g,
    (_m, name: string) => values[name] as string,
  );
  writeFileSync(join(prefix, "site.conf"), site);
  writeFileSync(
    join(prefix, "nginx.conf"),
    `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
${process.getuid?.() === 0 ? "user root;" : ""}
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  include ${prefix}/site.conf;
}
`,
  );
  return run(binary, ["-p", prefix, "-c", join(prefix, "nginx.conf"), "-g", "daemon off;"], {
    port,
    cleanup: () => rmSync(prefix, { recursive: true, force: true }),
  });
}
