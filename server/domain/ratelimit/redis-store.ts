import type { Redis } from "../../infra/redis/redis-client.js";
import type { RateLimitDecision, RateLimitStore } from "./store.js";

const COMMAND = "rateLimitGcra";
const REFUND_COMMAND = "rateLimitGcraRefund";

/**
 * GCRA in one atomic script, the same steps as `gcra()` in store.ts. Time comes from the Redis server
 * (TIME is allowed before writes since Redis 5 replicates effects), so instances with skewed clocks still
 * share one timeline. The TAT is stored as an integer µs string: `%.0f`, because Lua's default number
 * format keeps only 14 digits.
 * KEYS[1] the subject's key; ARGV: limit, window (µs), cost. Returns {allowed, remaining, resetUs, retryAfterUs}.
 */
const GCRA_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local interval = math.ceil(tonumber(ARGV[2]) / limit)
local cost = tonumber(ARGV[3])
local tolerance = interval * limit
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local newTat = tat + cost * interval
local excess = newTat - now - tolerance
if excess > 0 then
  return {0, math.floor((tolerance - (tat - now)) / interval), tat - now, excess}
end
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.max(1, math.ceil((newTat - now) / 1000)))
return {1, math.floor((tolerance - (newTat - now)) / interval), newTat - now, 0}
`;

/**
 * The reverse of an allowed check, the same steps as `gcraRefund()` in store.ts: moves the TAT back by
 * `cost` units, and deletes the key once the quota is full again. KEYS[1]; ARGV: limit, window (µs), cost.
 */
const GCRA_REFUND_LUA = `
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local newTat = tat - tonumber(ARGV[3]) * math.ceil(tonumber(ARGV[2]) / tonumber(ARGV[1]))
if newTat <= now then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.max(1, math.ceil((newTat - now) / 1000)))
return 1
`;

type GcraReply = [number, number, number, number];
type WithGcra = Redis & {
  [COMMAND](key: string, limit: number, windowUs: number, cost: number): Promise<GcraReply>;
  [REFUND_COMMAND](key: string, limit: number, windowUs: number, cost: number): Promise<number>;
};

/**
 * The shared limiter: one EVALSHA per check. ioredis sends the script body (EVAL) the first time on each
 * connection and EVALSHA afterwards, and resends on NOSCRIPT, so a restarted Redis needs nothing from us.
 * On a Cluster the script goes to the node owning the key's slot.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly client: WithGcra;

  constructor(client: Redis) {
    // Registered once per client, however many limiters share it.
    if (typeof (client as unknown as Partial<WithGcra>)[COMMAND] !== "function") {
      client.defineCommand(COMMAND, { numberOfKeys: 1, lua: GCRA_LUA });
    }
    if (typeof (client as unknown as Partial<WithGcra>)[REFUND_COMMAND] !== "function") {
      client.defineCommand(REFUND_COMMAND, { numberOfKeys: 1, lua: GCRA_REFUND_LUA });
    }
    this.client = client as unknown as WithGcra;
  }

  async consume(key: string, limit: number, windowUs: number, cost: number): Promise<RateLimitDecision> {
    const [allowed, remaining, resetUs, retryAfterUs] = await this.client[COMMAND](
      key,
      limit,
      windowUs,
      cost,
    );
    return { allowed: allowed === 1, limit, remaining, resetUs, retryAfterUs };
  }

  async reset(key: string): Promise<void> {
    await this.client.del(key);
  }

  async refund(key: string, limit: number, windowUs: number, cost: number): Promise<void> {
    await this.client[REFUND_COMMAND](key, limit, windowUs, cost);
  }
}
