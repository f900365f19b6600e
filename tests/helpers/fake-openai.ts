import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FakeMode = "ok" | "unauthorized" | "error" | "hang";

export interface FakeOpenAI {
  /** Base URL to use as OPENAI_BASE_URL, e.g. `http://127.0.0.1:PORT/v1`. */
  baseUrl: string;
  /** Requests received, by path. */
  calls: Array<{ path: string; authorization?: string }>;
  callCount(path?: string): number;
  setMode(mode: FakeMode): void;
  /** Delays every answer, so concurrent callers overlap with one in-flight request. */
  setDelayMs(ms: number): void;
  /** Replaces the model list served on `/v1/models`. */
  setModels(ids: string[]): void;
  close(): Promise<void>;
}

/** A real HTTP server on loopback that answers like OpenAI's `/v1/models` and counts its calls. */
export async function startFakeOpenAI(options: { apiKey?: string } = {}): Promise<FakeOpenAI> {
  let mode: FakeMode = "ok";
  let delayMs = 0;
  let models = ["gpt-4o", "gpt-4o-mini"];
  const calls: FakeOpenAI["calls"] = [];
  const sockets = new Set<Socket>();

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (delayMs > 0) {
      setTimeout(() => answer(req, res), delayMs);
      return;
    }
    answer(req, res);
  };

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    calls.push({ path, authorization: req.headers.authorization });
    if (mode === "hang") return; // accepts and never answers
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (mode === "error")
      return json(500, { error: { message: "The server had an error", type: "server_error" } });
    const expected = options.apiKey ? `Bearer ${options.apiKey}` : undefined;
    if (mode === "unauthorized" || (expected && req.headers.authorization !== expected)) {
      return json(401, { error: { message: "Incorrect API key provided", type: "invalid_request_error" } });
    }
    if (req.method === "GET" && path === "/v1/models") {
      return json(200, {
        object: "list",
        data: models.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "openai" })),
      });
    }
    json(404, { error: { message: "Unknown path", type: "invalid_request_error" } });
  };

  const server: Server = createServer(handler);
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    callCount: (path) => (path ? calls.filter((c) => c.path === path).length : calls.length),
    setMode: (m) => {
      mode = m;
    },
    setDelayMs: (ms) => {
      delayMs = ms;
    },
    setModels: (ids) => {
      models = ids;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
