import { LRUCache } from "lru-cache";
import { redisKeys } from "../../infra/redis/keys.js";
import type { Redis } from "../../infra/redis/redis-client.js";

/** What a WebAuthn challenge was issued for. */
export interface ChallengeState {
  purpose: "register" | "login";
  /** The user it was issued to (registration, a second factor); absent for a passwordless sign-in. */
  userId?: string;
}

/** Single-use WebAuthn challenges with a short life. */
export interface ChallengeStore {
  put(challenge: string, state: ChallengeState): Promise<void>;
  /** The challenge's state, removing it: a second take of the same challenge finds nothing. */
  take(challenge: string): Promise<ChallengeState | undefined>;
}

export const CHALLENGE_TTL_SECONDS = 300;
const MEMORY_MAX = 10_000; // challenges this process remembers without Redis

/** On Redis (GETDEL, so two instances cannot both use one), else in this process. */
export function createChallengeStore(deps: { redis?: Redis; keyPrefix: string }): ChallengeStore {
  const { redis } = deps;
  const keys = redisKeys(deps.keyPrefix);
  if (!redis) {
    const memory = new LRUCache<string, ChallengeState>({
      max: MEMORY_MAX,
      ttl: CHALLENGE_TTL_SECONDS * 1000,
    });
    return {
      put: async (challenge, state) => void memory.set(challenge, state),
      take: async (challenge) => {
        const state = memory.get(challenge);
        memory.delete(challenge);
        return state;
      },
    };
  }
  return {
    async put(challenge, state) {
      await redis.set(keys.webauthnChallenge(challenge), JSON.stringify(state), "EX", CHALLENGE_TTL_SECONDS);
    },
    async take(challenge) {
      if (!/^[A-Za-z0-9_-]{16,128}$/.test(challenge)) return undefined;
      const raw = await redis.getdel(keys.webauthnChallenge(challenge));
      return raw ? (JSON.parse(raw) as ChallengeState) : undefined;
    },
  };
}
