import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import {
  isDeliberateRepeat,
  SIGINT_REPEAT_MS,
  SIGNAL_REPEAT_MS,
  type StopCause,
  superviseSignals,
} from "../../server/process/signals.js";
import { silentLogger } from "../helpers/logger.js";

/** A process stand-in whose signals and clock the test drives. */
function supervised() {
  const source = Object.assign(new EventEmitter(), { ppid: 1 });
  let now = 0;
  const stops: StopCause[] = [];
  const cuts: NodeJS.Signals[] = [];
  const supervisor = superviseSignals({
    logger: silentLogger(),
    source: source as unknown as NodeJS.Process,
    now: () => now,
    watchParent: false,
    onStop: (cause) => stops.push(cause),
    onCutShort: (signal) => cuts.push(signal),
  });
  return {
    supervisor,
    stops,
    cuts,
    at(ms: number, signal: NodeJS.Signals) {
      now = ms;
      source.emit(signal);
    },
  };
}

describe("the repeated-signal rule", () => {
  it("a process-group signal's duplicate (direct and forwarded, ms apart) never cuts the drain short", () => {
    const p = supervised();
    p.at(0, "SIGTERM");
    p.at(3, "SIGTERM");
    p.at(40, "SIGTERM");
    expect(p.stops).toEqual(["SIGTERM"]);
    expect(p.cuts).toEqual([]);
    const q = supervised();
    q.at(0, "SIGINT");
    q.at(5, "SIGINT"); // a terminal's Ctrl-C reaches node and npm, which forwards it
    expect(q.cuts).toEqual([]);
  });

  it("Ctrl-C pressed again cuts it short; so does any signal repeated more than a second later", () => {
    const p = supervised();
    p.at(0, "SIGINT");
    p.at(4, "SIGINT");
    p.at(4 + SIGINT_REPEAT_MS, "SIGINT");
    expect(p.cuts).toEqual(["SIGINT"]);
    const q = supervised();
    q.at(0, "SIGTERM");
    q.at(SIGINT_REPEAT_MS + 10, "SIGTERM");
    expect(q.cuts).toEqual([]);
    q.at(SIGINT_REPEAT_MS + 10 + SIGNAL_REPEAT_MS + 1, "SIGTERM");
    expect(q.cuts).toEqual(["SIGTERM"]);
    // Measured from the first signal: npm's copy forwarded late (a busy machine) hides no real repeat.
    const r = supervised();
    r.at(0, "SIGINT");
    r.at(150, "SIGINT");
    r.at(300, "SIGINT");
    expect(r.cuts).toEqual(["SIGINT"]);
    expect(isDeliberateRepeat({ signal: "SIGTERM", at: 0 }, { signal: "SIGINT", at: 500 })).toBe(false);
    expect(isDeliberateRepeat({ signal: "SIGINT", at: 0 }, { signal: "SIGINT", at: 500 })).toBe(true);
  });

  it("a parent's exit and a signal count once, whichever comes first; so do the primary's word and a signal", () => {
    const p = supervised();
    p.supervisor.relayed("parent_exit");
    p.at(700, "SIGTERM");
    p.at(710, "SIGTERM");
    expect(p.stops).toEqual(["parent_exit"]);
    expect(p.cuts).toEqual([]);
    const q = supervised();
    q.at(0, "SIGTERM");
    q.supervisor.relayed("parent_exit");
    q.supervisor.relayed("SIGTERM"); // the cluster primary passing the same group signal on, late
    expect(q.stops).toEqual(["SIGTERM"]);
    expect(q.cuts).toEqual([]);
  });
});
