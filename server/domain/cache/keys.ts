/**
 * Every Redis key the cache uses, built in one place:
 *   <prefix>:cache:<category>:gen                  generation number of the category (INCR on invalidate)
 *   <prefix>:cache:<category>:g<gen>:k:<key>       a value
 *   <prefix>:cache:<category>:g<gen>:lock:<key>    the short lease held while one caller loads the value
 *   <prefix>:cache:<category>:g<gen>:index         sorted set of live keys (score: expiry by Redis TIME, ms) for counting
 * Categories are validated and keys are percent-encoded, so a key never contains ':' or '*' and cannot
 * reach outside its category, its generation or the prefix.
 */

import { CATEGORY_PATTERN } from "../../config/cache.js";
import { redisKeys } from "../../infra/redis/keys.js";
import { CacheKeyError } from "./errors.js";

export { CATEGORY_PATTERN };

export const MAX_KEY_LENGTH = 512; // characters, before encoding

export { CacheKeyError };

export function assertCategory(category: string): void {
  if (!CATEGORY_PATTERN.test(category)) {
    throw new CacheKeyError(
      `cache category must match ${CATEGORY_PATTERN} (got ${JSON.stringify(category)})`,
    );
  }
}

/** Percent-encodes a key part; `*` is encoded too so the result is never a glob. */
export function encodeKey(key: string): string {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new CacheKeyError(`cache key must be a string of 1-${MAX_KEY_LENGTH} characters`);
  }
  return encodeURIComponent(key).replace(
    /[*!'()~]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export interface CacheKeys {
  /** `<prefix>:cache:*`, for display: the cache never lists keys by pattern. */
  pattern: string;
  channel: string;
  generation(category: string): string;
  value(category: string, gen: number, key: string): string;
  lock(category: string, gen: number, key: string): string;
  index(category: string, gen: number): string;
}

export function cacheKeys(prefix: string): CacheKeys {
  const base = redisKeys(prefix).cache;
  const scoped = (category: string, gen: number) => {
    assertCategory(category);
    return `${base}:${category}:g${gen}`;
  };
  return {
    pattern: `${base}:*`,
    // Pub/sub channels are not keys, but they share the prefix so applications on one Redis stay apart.
    channel: `${base}:invalidate`,
    generation(category) {
      assertCategory(category);
      return `${base}:${category}:gen`;
    },
    value: (category, gen, key) => `${scoped(category, gen)}:k:${encodeKey(key)}`,
    lock: (category, gen, key) => `${scoped(category, gen)}:lock:${encodeKey(key)}`,
    index: (category, gen) => `${scoped(category, gen)}:index`,
  };
}
