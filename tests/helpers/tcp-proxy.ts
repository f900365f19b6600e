import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { freePort } from "./ports.js";

export interface TcpProxy {
  port: number;
  /**
   * Takes the target away. `refuse` (default): open connections are reset and new ones refused, as when
   * the server process is gone. `hang`: open connections stop forwarding and new ones are accepted but
   * never answered, as when the server or the network stalls.
   */
  cut(mode?: "refuse" | "hang"): Promise<void>;
  /** Brings the target back on the same port; connections held by `hang` are reset first. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP proxy on a free loopback port in front of `target`, which a test can cut and restore. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const port = await freePort();
  const open = new Set<Socket>();
  let mode: "up" | "refuse" | "hang" = "up";
  let server: Server | undefined;

  const track = (socket: Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => socket.destroy());
  };

  const onConnection = (client: Socket) => {
    track(client);
    if (mode === "hang") return; // accepted, never answered
    const upstream = tcpConnect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer(onConnection);
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        server = s;
        resolve();
      });
    });

  const stopListening = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      s.close(() => resolve());
    });

  const resetAll = () => {
    for (const socket of open) socket.resetAndDestroy();
    open.clear();
  };

  await listen();
  return {
    port,
    async cut(how = "refuse") {
      mode = how;
      if (how === "refuse") {
        const closed = stopListening();
        resetAll();
        await closed;
        return;
      }
      for (const socket of open) {
        socket.unpipe();
        socket.pause();
      }
    },
    async restore() {
      if (mode === "hang") resetAll();
      mode = "up";
      if (!server) await listen();
    },
    async close() {
      mode = "refuse";
      const closed = stopListening();
      resetAll();
      await closed;
    },
  };
}
