import type { Config } from "../config/config.js";
import type { SignIn } from "../domain/auth/sign-in.js";
import type { UserRepository } from "../domain/auth/user-repository.js";
import type { Metrics } from "../domain/metrics/metrics.js";
import { createMemoryFlowStore, createRedisFlowStore } from "../domain/oidc/flow-store.js";
import { createIdentities } from "../domain/oidc/identities.js";
import { createOidcClient } from "../domain/oidc/oidc-client.js";
import { createProviderSignIn, type ProviderSignIn } from "../domain/oidc/provider-sign-in.js";
import type { SecurityEvents } from "../domain/security/events.js";
import type { Database } from "../infra/db/database.js";
import type { Logger } from "../infra/logging/logger.js";
import { redisKeys } from "../infra/redis/keys.js";
import type { Redis } from "../infra/redis/redis-client.js";

/** Sign-in at the configured providers; flows in Redis when configured, else in this process. */
export function createOAuthServices(
  config: Config,
  deps: {
    db: Database;
    redis?: Redis;
    users: UserRepository;
    signIn: SignIn;
    events: SecurityEvents;
    metrics: Metrics;
    logger: Logger;
    /** This server's clock for the ID token's times and the flows' age (tests move it). */
    now?: () => number;
  },
): ProviderSignIn {
  const now = deps.now ?? Date.now;
  const clients = config.oidc.providers.map((provider) =>
    createOidcClient({
      provider,
      redirectUri: `${config.oidc.publicUrl}/auth/oauth/${provider.name}/callback`,
      timeoutMs: config.oidc.timeoutMs,
      toleranceSeconds: config.oidc.clockToleranceSeconds,
      now,
    }),
  );
  return createProviderSignIn({
    config,
    clients,
    flows: deps.redis
      ? createRedisFlowStore(deps.redis, redisKeys(config.keyPrefix).oauthFlows)
      : createMemoryFlowStore(now),
    identities: createIdentities(deps.db),
    users: deps.users,
    signIn: deps.signIn,
    events: deps.events,
    logger: deps.logger,
    registry: deps.metrics.registry,
    now,
  });
}
