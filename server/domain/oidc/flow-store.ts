import type { Redis } from "../../infra/redis/redis-client.js";

/** What a sign-in at a provider must come back with; stored server-side, never in the browser. */
export interface Flow {
  provider: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Where to send the browser afterwards (already checked by the safe-`next` rules). */
  next?: string;
  /** Set when a signed-in user started the flow to link this provider to their account. */
  linkUserId?: string;
  createdAt: number; // ms since epoch
}

/** Short-lived single-use flows: `take` returns a flow once, then never again. */
export interface FlowStore {
  put(id: string, flow: Flow, ttlSeconds: number): Promise<void>;
  take(id: string): Promise<Flow | undefined>;
}

/** Flows in Redis: SET with an expiry, read and deleted in one GETDEL so a replay finds nothing. */
export function createRedisFlowStore(redis: Redis, prefix: string): FlowStore {
  return {
    async put(id, flow, ttlSeconds) {
      await redis.set(`${prefix}${id}`, JSON.stringify(flow), "EX", ttlSeconds);
    },
    async take(id) {
      const raw = await redis.getdel(`${prefix}${id}`);
      return raw ? (JSON.parse(raw) as Flow) : undefined;
    },
  };
}

const MEMORY_MAX = 10_000; // flows in flight

/** Flows in this process' memory (no Redis): bounded, the oldest dropped first. */
export function createMemoryFlowStore(now: () => number = Date.now): FlowStore {
  const flows = new Map<string, { flow: Flow; expiresAt: number }>();
  return {
    async put(id, flow, ttlSeconds) {
      if (flows.size >= MEMORY_MAX) flows.delete(flows.keys().next().value as string);
      flows.set(id, { flow, expiresAt: now() + ttlSeconds * 1000 });
    },
    async take(id) {
      const entry = flows.get(id);
      flows.delete(id);
      return entry && entry.expiresAt > now() ? entry.flow : undefined;
    },
  };
}
