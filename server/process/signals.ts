import type { Logger } from "../infra/logging/logger.js";

/** A second SIGINT this long after the signal that began the stop is a person pressing Ctrl-C again (ms). */
export const SIGINT_REPEAT_MS = 200;
/** Any other repeat counts only this long after the signal that began the stop (ms). */
export const SIGNAL_REPEAT_MS = 1000;
// How often a process checks that its parent is still there (ms).
const PARENT_CHECK_INTERVAL_MS = 1000;

/** What stops a process: a signal, or its parent gone (`parent_exit`). */
export type StopCause = NodeJS.Signals | "parent_exit";

export interface SignalEvent {
  signal: NodeJS.Signals;
  at: number; // ms
}

/**
 * Whether `next` is a deliberate repeat of `first` (the signal that began the stop), meant to cut the
 * drain short: a SIGINT at least SIGINT_REPEAT_MS after a first SIGINT (Ctrl-C pressed again), or any
 * signal more than SIGNAL_REPEAT_MS after the first. A signal sent to a process group reaches a process
 * twice within milliseconds (directly, and forwarded by `npm start`): that duplicate is never a repeat.
 * Measured from the first signal, not the latest, so a late-forwarded duplicate cannot hide a real repeat.
 */
export function isDeliberateRepeat(first: SignalEvent, next: SignalEvent): boolean {
  const apart = next.at - first.at;
  if (first.signal === "SIGINT" && next.signal === "SIGINT" && apart >= SIGINT_REPEAT_MS) return true;
  return apart > SIGNAL_REPEAT_MS;
}

export interface SignalSupervisor {
  /**
   * A stop relayed by someone else (the cluster primary passing its signal on): it begins the stop when
   * none has begun, and is never compared with the signals this process receives itself.
   */
  relayed(cause: StopCause): void;
  /** Whether a stop has begun. */
  readonly stopping: boolean;
  dispose(): void;
}

/**
 * The one signal rule of every long-running process (web primary, web workers, mail worker): the first
 * SIGTERM, SIGINT or parent exit calls `onStop` once; a later signal calls `onCutShort` only when it is a
 * deliberate repeat (isDeliberateRepeat). A parent exit never cuts short, and a signal arriving with it
 * counts once.
 */
export function superviseSignals(deps: {
  logger: Logger;
  onStop(cause: StopCause): void;
  onCutShort(signal: NodeJS.Signals): void;
  /** Where signals come from and whose parent is watched; `process` unless a test replaces it. */
  source?: Pick<NodeJS.Process, "on" | "off" | "ppid">;
  now?: () => number;
  watchParent?: boolean;
}): SignalSupervisor {
  const { logger, onStop, onCutShort, source = process, now = Date.now, watchParent = true } = deps;
  let stopping = false;
  let first: SignalEvent | undefined;

  const receive = (cause: StopCause, relayed = false) => {
    const begins = !stopping;
    if (begins) {
      stopping = true;
      clearInterval(parentCheck);
    }
    if (cause === "parent_exit" || relayed) {
      if (begins) onStop(cause);
      return;
    }
    const event = { signal: cause, at: now() };
    if (!first) {
      // The first signal of this process; when the stop began with the parent's exit or the primary's
      // word, it is part of that same stop.
      first = event;
      if (begins) onStop(cause);
      return;
    }
    if (isDeliberateRepeat(first, event)) {
      logger.info(
        { signal: cause, sinceMs: event.at - first.at },
        "signal repeated: cutting the drain short",
      );
      onCutShort(cause);
    } else {
      logger.info(
        { signal: cause, sinceMs: event.at - first.at },
        "signal repeated within moments (a process-group signal): the drain goes on",
      );
    }
  };

  const onTerm = () => receive("SIGTERM");
  const onInt = () => receive("SIGINT");
  source.on("SIGTERM", onTerm);
  source.on("SIGINT", onInt);

  const parentPid = source.ppid;
  const parentCheck = setInterval(() => {
    if (source.ppid === parentPid) return;
    logger.warn({ parentPid }, "parent process has gone without stopping this one");
    receive("parent_exit");
  }, PARENT_CHECK_INTERVAL_MS);
  parentCheck.unref();
  if (!watchParent) clearInterval(parentCheck);

  return {
    relayed: (cause) => receive(cause, true),
    get stopping() {
      return stopping;
    },
    dispose() {
      clearInterval(parentCheck);
      source.off("SIGTERM", onTerm);
      source.off("SIGINT", onInt);
    },
  };
}
