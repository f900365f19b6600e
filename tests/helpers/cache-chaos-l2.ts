import type { CacheL2 } from "../../server/domain/cache/l2.js";

export type L2Operation = Exclude<keyof CacheL2, "kind">;
export type Fault = "throw" | "hang";

export class InjectedL2Error extends Error {
  constructor(op: string) {
    super(`injected L2 failure in ${op}`);
    this.name = "InjectedL2Error";
  }
}

export interface ChaosL2 extends CacheL2 {
  /** From now on the chosen operations (default: all) throw or never answer. */
  fail(fault: Fault, ops?: L2Operation[]): void;
  /** From now on calls of `op` wait for `gate` before going through (to force an interleaving). */
  hold(op: L2Operation, gate: Promise<unknown>): void;
  /** Back to normal; calls left hanging reject. */
  heal(): void;
  /** Calls that reached this wrapper, by operation (failed ones included). */
  readonly calls: Record<string, number>;
}

const OPERATIONS: L2Operation[] = [
  "generation",
  "bumpGeneration",
  "get",
  "set",
  "delete",
  "acquireLock",
  "releaseLock",
  "count",
  "inspect",
];

/**
 * A failure-injecting L2 around a real one: chosen operations throw or hang, so the cache's behaviour
 * on L2 errors is tested without killing a server.
 */
export function chaosL2(inner: CacheL2): ChaosL2 {
  const faults = new Map<L2Operation, Fault>();
  const hanging = new Set<(err: Error) => void>();
  const calls: Record<string, number> = {};
  const gates = new Map<L2Operation, Promise<unknown>>();

  const wrap =
    <A extends unknown[], R>(op: L2Operation, fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      calls[op] = (calls[op] ?? 0) + 1;
      const fault = faults.get(op);
      if (fault === "throw") return Promise.reject(new InjectedL2Error(op));
      if (fault === "hang") return new Promise<R>((_, reject) => hanging.add(reject));
      const gate = gates.get(op);
      return gate ? gate.then(() => fn(...args)) : fn(...args);
    };

  return {
    kind: inner.kind,
    generation: wrap("generation", inner.generation),
    bumpGeneration: wrap("bumpGeneration", inner.bumpGeneration),
    get: wrap("get", inner.get),
    set: wrap("set", inner.set),
    delete: wrap("delete", inner.delete),
    acquireLock: wrap("acquireLock", inner.acquireLock),
    releaseLock: wrap("releaseLock", inner.releaseLock),
    count: wrap("count", inner.count),
    inspect: wrap("inspect", inner.inspect),
    fail(fault, ops = OPERATIONS) {
      for (const op of ops) faults.set(op, fault);
    },
    hold(op, gate) {
      gates.set(op, gate);
    },
    heal() {
      faults.clear();
      gates.clear();
      for (const reject of hanging) reject(new InjectedL2Error("released hang"));
      hanging.clear();
    },
    calls,
  };
}
