import {
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from "jose";

/** After a token named a key we do not have, the keys are fetched again at most this often. */
const REFETCH_COOLDOWN_MS = 10_000;
/** Keys older than this are fetched again before use. */
const MAX_AGE_MS = 10 * 60_000;

/**
 * A provider's signing keys (its `jwks_uri`), cached, and fetched again when a token is signed by a key not
 * in the cache: a provider that rotates its key publishes the new one and signs with it, and the next
 * sign-in still verifies. `now` is the clock the cooldown runs on.
 */
export function createJwksCache(deps: { fetchKeys: () => Promise<JSONWebKeySet>; now: () => number }) {
  let cached: { keys: ReturnType<typeof createLocalJWKSet>; at: number } | undefined;
  const load = async () => {
    cached = { keys: createLocalJWKSet(await deps.fetchKeys()), at: deps.now() };
    return cached;
  };
  return async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    const current = cached && deps.now() - cached.at < MAX_AGE_MS ? cached : await load();
    try {
      return await current.keys(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || deps.now() - current.at < REFETCH_COOLDOWN_MS)
        throw err;
      return (await load()).keys(header, token);
    }
  };
}
