import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAfterFile, registerUser, testApp } from "../helpers/fixtures.js";
import { HOSTILE_HOSTS, HOSTILE_PATHS } from "../helpers/hostile-urls.js";
import { CADDY, NGINX, type RunningProcess, startCaddy, startNginx } from "../helpers/proxies.js";

// The shipped examples/ nginx and Caddy configurations in front of a static backend that holds a
// protected file, with the rule `app.example.com/admin=@corp.example.com`: every hostile path and host
// of the corpus, sent as raw request lines, must never bring the file to a user the rule refuses.

const SECRET = "TOP-SECRET-admin-file";
const HOST = "app.example.com";

/** Every way a lenient backend could read a request path (see tests/lib/canonical-url.test.ts). */
function readings(target: string): string[] {
  const path = target.split("?")[0] as string;
  const decode = (s: string) =>
    s.replace(/%([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  const variants = [
    decode(path),
    decode(decode(path)),
    decode(path.replace(/;[^/]*/g, "")),
    decode(path.replace(/%c0%af/gi, "/").replace(/%c0%ae/gi, ".")),
  ];
  return variants.map((v) => {
    const parts = v
      .replace(/\\/g, "/")
      .split("/")
      .map((s) => s.replace(/(?<=[^.])[. ]+$/, "").toLowerCase());
    const out: string[] = [];
    for (const s of parts) {
      if (s === "..") out.pop();
      else if (s !== "." && s !== "") out.push(s);
    }
    return `/${out.join("/")}`;
  });
}

/**
 * A static file server that serves /admin/secret.txt for any reading of the path that lands on it:
 * case-insensitive, `\` as `/`, dots resolved, slashes merged, decoded once or twice, `;parameters`
 * dropped, overlong UTF-8 accepted, trailing dots and spaces dropped (a worst case of real servers).
 */
function startStaticBackend(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const hit = readings(req.url ?? "/").some((p) => p === "/admin/secret.txt");
    res.setHeader("Content-Type", "text/plain");
    res.end(hit ? SECRET : `public ${req.url}`);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as AddressInfo).port })),
  );
}

/** One raw HTTP/1.0 request (no chunked answer) (the target as written, no client-side normalisation): status and body. */
function rawGet(
  port: number,
  target: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error(`timeout on ${target}`)));
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf("\r\n\r\n") + 4) });
    });
    const lines = Object.entries({ Connection: "close", ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(Buffer.from(`GET ${target} HTTP/1.0\r\n${lines.join("")}\r\n`, "latin1"));
  });
}

let authUpstream: string;
let backendPort: number;
let outsider: string;

beforeAll(async () => {
  const auth = await testApp({
    env: {
      TRUST_PROXY: "127.0.0.1",
      FORWARD_AUTH_RULES: `${HOST}/, ${HOST}/admin=@corp.example.com, *`,
      RATE_LIMIT_GLOBAL_LIMIT: "10000",
      // Email and domain rules admit confirmed addresses only; the outsider is not at corp.example.com.
      EMAIL_VERIFICATION: "optional",
      MAIL_OUTBOX_DIR: join(tmpdir(), "forward-auth-paths-outbox"),
    },
  });
  const authServer = createServer(auth.app);
  await new Promise<void>((resolve) => authServer.listen(0, "127.0.0.1", resolve));
  closeAfterFile(() => new Promise<void>((resolve) => authServer.close(() => resolve())));
  authUpstream = `127.0.0.1:${(authServer.address() as AddressInfo).port}`;
  const backend = await startStaticBackend();
  closeAfterFile(() => new Promise<void>((resolve) => backend.server.close(() => resolve())));
  backendPort = backend.port;
  outsider = (await registerUser(auth)).cookie;
});

it("the static backend itself serves the protected file for most of the corpus (the test has teeth)", async () => {
  let served = 0;
  for (const target of HOSTILE_PATHS) {
    const res = await rawGet(backendPort, target, { Host: HOST });
    if (res.body === SECRET) served++;
  }
  console.log(`static backend serves the protected file for ${served} of ${HOSTILE_PATHS.length} paths`);
  expect(served).toBeGreaterThanOrEqual(50);
});

describe.each([
  { name: "caddy", binary: CADDY, start: startCaddy },
  { name: "nginx", binary: NGINX, start: startNginx },
])("$name (examples/) in front of the static backend", ({ name, binary, start }) => {
  let proxy: RunningProcess;
  beforeAll(async () => {
    if (!binary) return;
    proxy = await start(binary, { auth: authUpstream, backend: `127.0.0.1:${backendPort}` });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it.skipIf(!binary)("never serves the protected file to the outsider or to nobody", async () => {
    const leaks: string[] = [];
    const statuses = new Map<number, number>();
    for (const target of HOSTILE_PATHS) {
      for (const cookie of [outsider, undefined]) {
        const res = await rawGet(proxy.port, target, { Host: HOST, ...(cookie ? { Cookie: cookie } : {}) });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.body.includes(SECRET)) leaks.push(`${target} (${cookie ? "outsider" : "anonymous"})`);
      }
    }
    for (const [host] of HOSTILE_HOSTS) {
      const res = await rawGet(proxy.port, "/admin/secret.txt", { Host: host, Cookie: outsider });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.body.includes(SECRET)) leaks.push(`host ${host}`);
    }
    console.log(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(leaks).toEqual([]);
  });

  it.skipIf(!binary)("still serves the outsider the pages the rule leaves open", async () => {
    const res = await rawGet(proxy.port, "/public/readme.txt", { Host: HOST, Cookie: outsider });
    expect(res.status).toBe(200);
    expect(res.body).toBe("public /public/readme.txt");
  });

  it.skipIf(!binary)(
    "drops every X-Auth-* header a client sent, in every spelling it passes on",
    async () => {
      const echo = createServer((req, res) => res.end(JSON.stringify(req.headers)));
      await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
      const echoProxy = await start(binary as string, {
        auth: authUpstream,
        backend: `127.0.0.1:${(echo.address() as AddressInfo).port}`,
      });
      try {
        const forged = {
          "X-Auth-User-Id": "forged",
          "x-auth-user-email": "forged@corp.example.com",
          "X-AUTH-SESSION-ID": "forged",
          X_Auth_User_Id: "forged",
          x_auth_user_email: "forged",
          "X_Auth-Session_Id": "forged",
          "X-Auth_Roles": "forged",
          // Caddy drops every X-Auth-* name; nginx cannot match a pattern and overwrites the names the
          // auth server answers with (examples/nginx/nginx.conf says so).
          ...(name === "caddy" ? { "X-Auth-Roles": "forged", "X-Auth-Anything": "forged" } : {}),
        };
        const res = await rawGet(echoProxy.port, "/public/x", { Host: HOST, Cookie: outsider, ...forged });
        expect(res.status).toBe(200);
        const seen = JSON.parse(res.body) as Record<string, string>;
        const identity = Object.entries(seen).filter(([name]) => /^x[-_]auth[-_]/i.test(name));
        expect(identity.filter(([, value]) => value === "forged" || value.startsWith("forged@"))).toEqual([]);
      } finally {
        await echoProxy.stop();
        await new Promise<void>((resolve) => echo.close(() => resolve()));
      }
    },
  );
});
