import { connect } from "node:net";
import { sleep } from "./sleep.js";

/** What N clients saw while they kept requesting during a fault. */
export interface FaultOutcomes {
  requests: number;
  ok: number;
  /** Complete `503 service_unavailable` JSON answers with `Retry-After` and no Set-Cookie. */
  unavailable: number;
  /** Any other status (a 500, a 401 for a session that should still exist, ...), by status. */
  other: Record<number, number>;
  /** 503s missing the JSON body, the code, `Retry-After`, or carrying a Set-Cookie. */
  bad503: number;
  /** Requests that got no complete response (reset, truncated body, timed out). */
  resets: number;
  /** Slowest answer, ms. */
  maxMs: number;
  p99Ms: number;
}

/** Registers `count` users over HTTP and returns their session cookies (`name=value`). */
export async function registerClients(
  baseUrl: string,
  cookieName: string,
  count: number,
  tag: string,
): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${baseUrl}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        email: `${tag}-${process.pid}-${Date.now()}-${i}@example.com`,
        password: "correct horse battery",
      }),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 201) throw new Error(`register answered ${res.status}`);
    const cookie = res.headers
      .getSetCookie()
      .find((c) => c.startsWith(`${cookieName}=`))
      ?.split(";")[0];
    if (!cookie) throw new Error("no session cookie");
    cookies.push(cookie);
  }
  return cookies;
}

/** GET `path` with `cookie`; the status, or "reset" when no complete response arrived in time. */
export async function statusWith(
  baseUrl: string,
  cookie: string,
  path = "/auth/me",
): Promise<number | "reset"> {
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      headers: { cookie },
      signal: AbortSignal.timeout(5000),
    });
    await res.text();
    return res.status;
  } catch {
    return "reset";
  }
}

/**
 * Every client requests `path` in a loop (20 ms apart) until `stop()` is true, and each answer is
 * classified. Each request is bounded by a 5 s timeout, so the whole run is bounded too.
 */
export async function keepRequesting(
  baseUrl: string,
  cookies: string[],
  stop: () => boolean,
  path = "/auth/me",
): Promise<FaultOutcomes> {
  const out: FaultOutcomes = {
    requests: 0,
    ok: 0,
    unavailable: 0,
    other: {},
    bad503: 0,
    resets: 0,
    maxMs: 0,
    p99Ms: 0,
  };
  const latencies: number[] = [];
  const client = async (cookie: string) => {
    while (!stop()) {
      const started = Date.now();
      out.requests++;
      try {
        const res = await fetch(`${baseUrl}${path}`, {
          headers: { cookie },
          signal: AbortSignal.timeout(5000),
        });
        const text = await res.text();
        latencies.push(Date.now() - started);
        if (res.status === 200) out.ok++;
        else if (res.status === 503) {
          let code: unknown;
          try {
            code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
          } catch {
            code = undefined;
          }
          const complete =
            code === "service_unavailable" &&
            res.headers.get("retry-after") !== null &&
            res.headers.getSetCookie().length === 0;
          if (complete) out.unavailable++;
          else out.bad503++;
        } else out.other[res.status] = (out.other[res.status] ?? 0) + 1;
      } catch {
        out.resets++;
      }
      await sleep(20);
    }
  };
  await Promise.all(cookies.map(client));
  latencies.sort((a, b) => a - b);
  out.maxMs = latencies.at(-1) ?? 0;
  out.p99Ms = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0;
  return out;
}

/**
 * Records every key a `DEL` or `UNLINK` names on the server at `port`, including those run inside
 * scripts (MONITOR shows both), until `stop()`. Keys of other kinds (cache locks, entries) can be
 * told apart by their prefix. A plain socket: ioredis' monitor mode can misread a busy server's first
 * lines.
 */
export async function watchDeletes(port: number): Promise<{ keys: string[]; stop(): void }> {
  const keys: string[] = [];
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.setEncoding("utf8");
  let buffered = "";
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\r\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      // +<time> [<db> <client>] "DEL" "key" ...
      const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] as string);
      const name = args[0]?.toLowerCase();
      if (name === "del" || name === "unlink") keys.push(...args.slice(1));
    }
  });
  socket.write("MONITOR\r\n");
  return {
    keys,
    stop() {
      socket.destroy();
    },
  };
}
