import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../server/infra/logging/logger.js";

export function silentLogger(): Logger {
  return createLogger({ level: "silent" });
}

/** A real logger whose JSON lines are kept in `lines`, so tests can read what operators would see. */
export function capturingLogger(
  level = "debug",
  options: { repeatIntervalMs?: number } = {},
): { logger: Logger; lines: string[]; text(): string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      cb();
    },
  });
  return {
    logger: createLogger({ level, destination, repeatIntervalMs: options.repeatIntervalMs }),
    lines,
    text: () => lines.join("\n"),
  };
}
