import { setTimeout as wait } from "node:timers/promises";

/**
 * Waits `ms` milliseconds. Only for what takes real time by design (a TTL on a real Redis, traffic during a
 * fault); to wait for a condition use `waitUntil` (fixtures.ts).
 */
export function sleep(ms: number): Promise<void> {
  return wait(ms);
}
