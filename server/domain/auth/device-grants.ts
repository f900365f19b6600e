import type { Redis } from "../../infra/redis/redis-client.js";
import { DependencyUnavailableError } from "../../lib/errors.js";
import type { AuthMethod } from "./session-auth.js";

/** One device sign-in (RFC 8628) while it waits for its owner; times in ms since epoch. */
export interface DeviceGrant {
  userCode: string;
  /** What the device says it is (shown on the approval page). */
  clientName: string;
  ip: string;
  userAgent: string;
  createdAt: number;
  expiresAt: number;
  /** Seconds the device must wait between polls; grows by 5 at each `slow_down`. */
  interval: number;
  lastPollAt?: number;
  status: "pending" | "approved" | "denied";
  userId?: string;
  amr?: AuthMethod[];
}

export type PollOutcome =
  | { outcome: "pending" | "slow_down" | "expired" | "denied" }
  | { outcome: "approved"; grant: DeviceGrant };

/** Where device grants wait: Redis (shared by every instance) or this process. */
export interface DeviceGrantStore {
  /** Stores a new grant; false when its user code is already taken (the caller draws another). */
  create(deviceHash: string, grant: DeviceGrant): Promise<boolean>;
  findByUserCode(userCode: string): Promise<{ deviceHash: string; grant: DeviceGrant } | undefined>;
  /** Approves or denies a pending grant once; its user code stops working. False: not pending any more. */
  decide(
    deviceHash: string,
    userCode: string,
    decision: Pick<DeviceGrant, "status" | "userId" | "amr">,
  ): Promise<boolean>;
  /** One poll: pending, too fast, or the end (an approved or denied grant is consumed by this poll). */
  poll(deviceHash: string, now: number): Promise<PollOutcome>;
}

// One key per grant, so each script touches one key (Redis Cluster). A decided grant is deleted by the
// poll that reads it: one token per approval. A poll sooner than the interval grows it (RFC 8628 3.5).
const POLL = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 'expired' end
local g = cjson.decode(raw)
if g.status ~= 'pending' then
  redis.call('DEL', KEYS[1])
  return raw
end
local now = tonumber(ARGV[1])
local outcome = 'pending'
if g.lastPollAt and now - g.lastPollAt < g.interval * 1000 then
  g.interval = g.interval + 5
  outcome = 'slow_down'
end
g.lastPollAt = now
redis.call('SET', KEYS[1], cjson.encode(g), 'KEEPTTL')
return outcome`;

const DECIDE = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local g = cjson.decode(raw)
if g.status ~= 'pending' then return 0 end
local d = cjson.decode(ARGV[1])
g.status = d.status
g.userId = d.userId
g.amr = d.amr
redis.call('SET', KEYS[1], cjson.encode(g), 'KEEPTTL')
return 1`;

type DeviceRedis = Redis & {
  deviceGrantPoll(key: string, now: number): Promise<string>;
  deviceGrantDecide(key: string, decision: string): Promise<number>;
};

const outcomeOf = (reply: string): PollOutcome => {
  if (reply === "pending" || reply === "slow_down" || reply === "expired") return { outcome: reply };
  const grant = JSON.parse(reply) as DeviceGrant;
  return grant.status === "approved" ? { outcome: "approved", grant } : { outcome: "denied" };
};

/** Device grants in Redis under `<prefix>:device:`, each living until it expires. */
export function createRedisDeviceGrants(deps: { redis: Redis; keyPrefix: string }): DeviceGrantStore {
  const redis = deps.redis as DeviceRedis;
  if (typeof redis.deviceGrantPoll !== "function") {
    redis.defineCommand("deviceGrantPoll", { numberOfKeys: 1, lua: POLL });
    redis.defineCommand("deviceGrantDecide", { numberOfKeys: 1, lua: DECIDE });
  }
  const grantKey = (hash: string) => `${deps.keyPrefix}:device:grant:${hash}`;
  const codeKey = (code: string) => `${deps.keyPrefix}:device:code:${code}`;
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw new DependencyUnavailableError("redis", err);
    }
  };

  return {
    create: (hash, grant) =>
      run(async () => {
        const ttlMs = grant.expiresAt - grant.createdAt;
        if ((await redis.set(codeKey(grant.userCode), hash, "PX", ttlMs, "NX")) !== "OK") return false;
        await redis.set(grantKey(hash), JSON.stringify(grant), "PX", ttlMs);
        return true;
      }),

    findByUserCode: (code) =>
      run(async () => {
        const hash = await redis.get(codeKey(code));
        const raw = hash ? await redis.get(grantKey(hash)) : null;
        return hash && raw ? { deviceHash: hash, grant: JSON.parse(raw) as DeviceGrant } : undefined;
      }),

    decide: (hash, code, decision) =>
      run(async () => {
        const done = (await redis.deviceGrantDecide(grantKey(hash), JSON.stringify(decision))) === 1;
        await redis.del(codeKey(code));
        return done;
      }),

    poll: (hash, now) => run(async () => outcomeOf(await redis.deviceGrantPoll(grantKey(hash), now))),
  };
}

/** Device grants in this process (no Redis): the same rules, for one instance. */
export function createMemoryDeviceGrants(now: () => number = Date.now): DeviceGrantStore {
  const grants = new Map<string, DeviceGrant>();
  const codes = new Map<string, string>();
  const live = (hash: string) => {
    const grant = grants.get(hash);
    if (grant && grant.expiresAt > now()) return grant;
    if (grant) {
      grants.delete(hash);
      codes.delete(grant.userCode);
    }
    return undefined;
  };

  return {
    async create(hash, grant) {
      const holder = codes.get(grant.userCode);
      if (holder && live(holder)) return false;
      grants.set(hash, { ...grant });
      codes.set(grant.userCode, hash);
      return true;
    },
    async findByUserCode(code) {
      const hash = codes.get(code);
      const grant = hash ? live(hash) : undefined;
      return hash && grant ? { deviceHash: hash, grant: { ...grant } } : undefined;
    },
    async decide(hash, code, decision) {
      codes.delete(code);
      const grant = live(hash);
      if (grant?.status !== "pending") return false;
      Object.assign(grant, decision);
      return true;
    },
    async poll(hash, at) {
      const grant = live(hash);
      if (!grant) return { outcome: "expired" };
      if (grant.status !== "pending") {
        grants.delete(hash);
        return grant.status === "approved" ? { outcome: "approved", grant } : { outcome: "denied" };
      }
      const tooFast = grant.lastPollAt !== undefined && at - grant.lastPollAt < grant.interval * 1000;
      if (tooFast) grant.interval += 5;
      grant.lastPollAt = at;
      return { outcome: tooFast ? "slow_down" : "pending" };
    },
  };
}
