import cluster from "node:cluster";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Server as NetServer, type Socket } from "node:net";

// A connection with no request in flight and no byte received for this long is closed by the drain.
// Shorter risks closing one whose client is about to send; longer only delays the exit.
const IDLE_CLOSE_MS = 2000;
const SWEEP_INTERVAL_MS = 100;
// In a cluster worker, how long connections are still served as usual after its listener closed, so that
// every worker's and the primary's copy of the listening socket is closed before clients reconnect.
const WORKER_LISTENER_SETTLE_MS = 1000;

interface Connection {
  socket: Socket;
  response?: ServerResponse; // the request being answered, if any
  bytesRead: number; // when last seen idle
  idleSince: number;
  idleSweeps: number; // sweeps in a row that found it idle
}

interface Drain {
  drain(timeoutMs: number): Promise<void>;
}

/**
 * Follows every connection of `server` from its acceptance, so that a drain never cuts one whose request is
 * in flight or not parsed yet (Node's `server.close()` and `closeIdleConnections()` count an accepted
 * connection as idle until its request's headers have been parsed, and reset it).
 */
export function trackConnections(server: Server): void {
  if (!drains.has(server)) drains.set(server, follow(server));
}

/**
 * Stops accepting, then closes each connection only between requests: a request being answered, or the
 * next one a keep-alive client sends, is answered with `Connection: close`; a connection idle for
 * IDLE_CLOSE_MS is ended. Whatever is still open after `timeoutMs` is cut. Resolves once all are closed.
 * Connections accepted before `trackConnections(server)` are not waited for.
 */
export function drainServer(server: Server, timeoutMs: number): Promise<void> {
  trackConnections(server);
  return (drains.get(server) as Drain).drain(timeoutMs);
}

const drains = new WeakMap<Server, Drain>();

function follow(server: Server): Drain {
  const connections = new Map<Socket, Connection>();
  let draining = false;

  server.on("connection", (socket: Socket) => {
    connections.set(socket, { socket, bytesRead: 0, idleSince: Date.now(), idleSweeps: 0 });
    socket.once("close", () => connections.delete(socket));
  });
  server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    const conn = connections.get(req.socket);
    if (!conn) return;
    conn.response = res;
    if (draining) res.setHeader("Connection", "close");
    res.once("close", () => {
      if (conn.response !== res) return;
      conn.response = undefined;
      conn.bytesRead = conn.socket.bytesRead;
      conn.idleSince = Date.now();
      conn.idleSweeps = 0;
    });
  });

  const closeIdle = () => {
    const now = Date.now();
    for (const conn of connections.values()) {
      if (conn.response) continue;
      if (conn.socket.bytesRead !== conn.bytesRead) {
        // Bytes of a request whose headers are not complete yet: it will be answered with Connection: close.
        conn.bytesRead = conn.socket.bytesRead;
        conn.idleSince = now;
        conn.idleSweeps = 0;
        continue;
      }
      // Two sweeps at least, so that the event loop has read the sockets in between: on a busy process a
      // request can wait in the socket longer than IDLE_CLOSE_MS before it is read.
      conn.idleSweeps++;
      if (conn.idleSweeps >= 2 && now - conn.idleSince >= IDLE_CLOSE_MS) {
        conn.socket.end();
      }
    }
  };

  return {
    drain(timeoutMs) {
      return new Promise((resolve) => {
        let listenerClosed = false;
        let sweep: NodeJS.Timeout | undefined;
        const finish = () => {
          if (!listenerClosed || connections.size > 0) return;
          clearInterval(sweep);
          clearTimeout(force);
          resolve();
        };
        const force = setTimeout(() => {
          for (const conn of connections.values()) conn.socket.destroy();
          connections.clear();
          listenerClosed = true;
          finish();
        }, timeoutMs);
        force.unref();
        const closeConnections = () => {
          draining = true;
          for (const conn of connections.values()) {
            if (conn.response && !conn.response.headersSent) conn.response.setHeader("Connection", "close");
          }
          sweep = setInterval(() => {
            closeIdle();
            finish();
          }, SWEEP_INTERVAL_MS);
          closeIdle();
        };
        // net.Server's close: stops accepting without http.Server's closeIdleConnections().
        NetServer.prototype.close.call(server, () => {
          listenerClosed = true;
          finish();
        });
        // A worker shares the listening socket with the others and the primary, which keep it open a moment
        // longer: a client told to reconnect now would land in its accept queue, and be reset when it closes.
        if (cluster.isWorker) setTimeout(closeConnections, WORKER_LISTENER_SETTLE_MS).unref();
        else closeConnections();
      });
    },
  };
}
