/**
 * Every Redis key namespace of the app, under the deployment's KEY_PREFIX:
 *   <prefix>:sess:<sid>                      a session (express-session via connect-redis)
 *   <prefix>:sess-index:{<user>}:meta|seen   the user's session index (hash-tagged: one cluster slot)
 *   <prefix>:cache:...                       the two-tier cache (layout in cache/keys.ts)
 *   <prefix>:rl:{<policy>:<subject>}         a rate-limit counter (hash-tagged)
 *   <prefix>:oauth-flow:<sha256>             a sign-in at a provider in flight (single use)
 *   <prefix>:health                          the key the Redis health check writes and reads back
 *   <prefix>:sec-events:{<user>}             the user's recent security events (capped list, hash-tagged)
 *   <prefix>:device:grant|code:<...>         a device sign-in waiting for approval (RFC 8628; expires with it)
 *   <prefix>:signin-stats:<hour>             sign-ins, failures and lockouts of one hour (admin overview)
 *   {<prefix>:jobs}:<queue>:...              the job queues (BullMQ's prefix: every key of every queue
 *                                            in one cluster slot, as its Lua scripts need)
 * Metrics and the operator commands count and reach keys through these names only.
 */
export interface RedisKeys {
  /** Prefix of every session key. */
  sessions: string;
  /** Prefix of every session-index key. */
  sessionIndexes: string;
  /** The two keys of one user's session index. */
  sessionIndex(userId: string): { meta: string; seen: string };
  /** Base of every cache key and of the invalidation channel (no trailing colon). */
  cache: string;
  /** Prefix of every rate-limit key. */
  rateLimits: string;
  /** The key of one rate-limit policy's subject. */
  rateLimit(policy: string, subject: string): string;
  health: string;
  /** Prefix of every sign-in flow at a provider. */
  oauthFlows: string;
  /** One user's recent security events, newest first. */
  securityEvents(userId: string): string;
  /** BullMQ's `prefix` option (BullMQ adds `:<queue>:<part>`). */
  jobs: string;
  /** A WebAuthn challenge waiting for its single use. */
  webauthnChallenge(challenge: string): string;
}

export function redisKeys(keyPrefix: string): RedisKeys {
  return {
    sessions: `${keyPrefix}:sess:`,
    sessionIndexes: `${keyPrefix}:sess-index:`,
    sessionIndex(userId) {
      const base = `${keyPrefix}:sess-index:{${userId}}`;
      return { meta: `${base}:meta`, seen: `${base}:seen` };
    },
    cache: `${keyPrefix}:cache`,
    rateLimits: `${keyPrefix}:rl:`,
    rateLimit: (policy, subject) => `${keyPrefix}:rl:{${policy}:${subject}}`,
    health: `${keyPrefix}:health`,
    oauthFlows: `${keyPrefix}:oauth-flow:`,
    securityEvents: (userId) => `${keyPrefix}:sec-events:{${userId}}`,
    jobs: `{${keyPrefix}:jobs}`,
    webauthnChallenge: (challenge) => `${keyPrefix}:webauthn:{${challenge}}`,
  };
}

/** The namespaces `/metrics/redis` counts keys in, by the names it reports them under. */
export function keyNamespaces(keyPrefix: string) {
  const keys = redisKeys(keyPrefix);
  return {
    sessions: keys.sessions,
    session_index: keys.sessionIndexes,
    cache: `${keys.cache}:`,
    rate_limit: keys.rateLimits,
    jobs: `${keys.jobs}:`,
  };
}
