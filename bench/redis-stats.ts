import { Redis } from "ioredis";
import { commandDiff, parseCommandStats } from "../tests/helpers/redis-stats.js";

export interface RedisSnapshot {
  /** Calls per command name (lower case), from INFO commandstats. */
  calls: Record<string, number>;
  /** Read events Redis processed on client sockets (INFO stats total_reads_processed). */
  reads: number;
}

/** One INFO call (Redis >= 7 takes several sections) so the snapshot itself costs one read and one command. */
export async function snapshot(client: Redis): Promise<RedisSnapshot> {
  const info = (await client.call("INFO", "stats", "commandstats")) as string;
  const calls = parseCommandStats(info);
  const reads = Number(/^total_reads_processed:(\d+)/m.exec(info)?.[1] ?? NaN);
  return { calls, reads };
}

/** Commands that run Lua: each also counts, in INFO commandstats, every command its script runs. */
export const SCRIPT_COMMANDS = ["evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro"];

export interface RedisDelta {
  commands: number;
  byCommand: Record<string, number>;
  reads: number;
}

/** What the app did between two snapshots, leaving out the snapshots' own INFO calls. */
export function delta(before: RedisSnapshot, after: RedisSnapshot): RedisDelta {
  const { commands: byCommand, total: commands } = commandDiff(before.calls, after.calls);
  return { commands, byCommand, reads: after.reads - before.reads - 1 };
}

export interface MonitorEvent {
  timeUs: number;
  source: string;
  command: string;
  /** Run by a Lua script (EVALSHA), not sent by a client: costs no round trip of its own. */
  fromScript: boolean;
  /** The command's arguments after its name (keys and values). */
  args: string[];
}

/**
 * Records every command Redis receives while `fn` runs (MONITOR slows Redis down, so this is used only
 * for short samples, never during a measured phase).
 */
export async function monitor<T>(
  url: string,
  fn: () => Promise<T>,
): Promise<{ events: MonitorEvent[]; result: T }> {
  const client = new Redis(url, { lazyConnect: true });
  client.on("error", () => undefined);
  const mon = await client.monitor(); // resolves once MONITOR is in force
  const events: MonitorEvent[] = [];
  mon.on("monitor", (time: string, args: string[], source: string) => {
    const command = String(args[0]).toLowerCase();
    if (command === "info") return; // the bench's own snapshots
    const [s, us] = time.split(".");
    // Commands a Lua script runs are reported too, with source "lua".
    events.push({
      timeUs: Number(s) * 1e6 + Number(us),
      source,
      command,
      fromScript: source.endsWith("lua"),
      args: args.slice(1).map(String),
    });
  });
  try {
    const result = await fn();
    await new Promise((r) => setTimeout(r, 50));
    return { events, result };
  } finally {
    mon.disconnect();
    client.disconnect();
  }
}
