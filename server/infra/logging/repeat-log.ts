import { type Logger, repeatIntervalOf } from "./logger.js";

type Level = "error" | "warn";

interface Episode {
  level: Level;
  msg: string;
  fields: Record<string, unknown>;
  startedAt: number; // ms since epoch
  total: number;
  /** Occurrences since the last line written for this episode. */
  unlogged: number;
  timer: NodeJS.Timeout;
}

/**
 * Logs a repeating failure as an episode instead of one line per occurrence: the first occurrence is
 * logged at once (`episode: "start"`), then at most one line per `intervalMs` with the count of repeats
 * (`episode: "repeating"`), and one line when it ends (`episode: "end"`, with the total and duration):
 * either `end(key)` is called (e.g. the connection is back) or nothing happened for one interval.
 */
export interface RepeatLog {
  /** `first` holds fields only the start line carries (e.g. the first request's id). */
  report(
    key: string,
    level: Level,
    fields: Record<string, unknown>,
    msg: string,
    first?: Record<string, unknown>,
  ): void;
  end(key: string, fields?: Record<string, unknown>): void;
  /** True while an episode under `key` is open. */
  active(key: string): boolean;
  /** Closes every open episode (logging its end) and stops the timers. */
  close(): void;
}

/** LOG_REPEAT_INTERVAL_MS' default. */
export const DEFAULT_REPEAT_INTERVAL_MS = 10_000;

export function createRepeatLog(logger: Logger, options: { intervalMs?: number } = {}): RepeatLog {
  const intervalMs = options.intervalMs ?? repeatIntervalOf(logger) ?? DEFAULT_REPEAT_INTERVAL_MS;
  const episodes = new Map<string, Episode>();

  const finish = (key: string, episode: Episode, fields: Record<string, unknown> = {}) => {
    clearTimeout(episode.timer);
    episodes.delete(key);
    const level = episode.level === "error" ? "warn" : "info";
    logger[level](
      {
        ...episode.fields,
        ...fields,
        episode: "end",
        count: episode.total,
        durationMs: Date.now() - episode.startedAt,
      },
      `${episode.msg}: ended`,
    );
  };

  const tick = (key: string) => {
    const episode = episodes.get(key);
    if (!episode) return;
    if (episode.unlogged === 0) {
      finish(key, episode);
      return;
    }
    logger[episode.level](
      { ...episode.fields, episode: "repeating", repeats: episode.unlogged, count: episode.total },
      episode.msg,
    );
    episode.unlogged = 0;
    episode.timer = setTimeout(tick, intervalMs, key).unref();
  };

  return {
    report(key, level, fields, msg, first) {
      const episode = episodes.get(key);
      if (episode) {
        episode.total++;
        episode.unlogged++;
        return;
      }
      logger[level]({ ...first, ...fields, episode: "start" }, msg);
      episodes.set(key, {
        level,
        msg,
        fields,
        startedAt: Date.now(),
        total: 1,
        unlogged: 0,
        timer: setTimeout(tick, intervalMs, key).unref(),
      });
    },
    end(key, fields) {
      const episode = episodes.get(key);
      if (episode) finish(key, episode, fields);
    },
    active: (key) => episodes.has(key),
    close() {
      for (const [key, episode] of [...episodes]) finish(key, episode);
    },
  };
}
