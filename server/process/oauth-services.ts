import type { Config } from "../config/config.js";
import type { BeginSignIn } from "../domain/auth/begin-sign-in.js";
import type { UserRepository } from "../domain/auth/user-repository.js";
import type { Metrics } from "../domain/metrics/metrics.js";
import { createMemoryFlowStore, createRedisFlowStore } from "../domain/oidc/flow-store.js";
import { createGithubClient } from "../domain/oidc/github-client.js";
import { createIdentities } from "../domain/oidc/identities.js";
import { createOidcClient, type ProviderClient } from "../domain/oidc/oidc-client.js";
import { createProviderSignIn, type ProviderSignIn } from "../domain/oidc/provider-sign-in.js";
import type { SecurityEvents } from "../domain/security/events.js";
import type { Database } from "../infra/db/database.js";
import type { Logger } from "../infra/logging/logger.js";
import { redisKeys } from "../infra/redis/keys.js";
import type { Redis } from "../infra/redis/redis-client.js";

/** One client per configured provider; does no I/O. */
export function createProviderClients(config: Config, now: () => number = Date.now): ProviderClient[] {
  const redirectUri = (name: string) => `${config.oidc.publicUrl}/auth/oauth/${name}/callback`;
  const clients = config.oidc.providers.map((provider) =>
    createOidcClient({
      provider,
      redirectUri: redirectUri(provider.name),
      timeoutMs: config.oidc.timeoutMs,
      toleranceSeconds: config.oidc.clockToleranceSeconds,
      now,
    }),
  );
  const { github } = config.oidc;
  if (github) {
    clients.push(
      createGithubClient({ github, redirectUri: redirectUri("github"), timeoutMs: config.oidc.timeoutMs }),
    );
  }
  return clients;
}

/** Sign-in at the configured providers; flows in Redis when configured, else in this process. */
export function createOAuthServices(
  config: Config,
  deps: {
    clients: ProviderClient[];
    db: Database;
    redis?: Redis;
    users: UserRepository;
    beginSignIn: BeginSignIn;
    events: SecurityEvents;
    metrics: Metrics;
    logger: Logger;
    /** This server's clock for the flows' age (tests move it). */
    now?: () => number;
  },
): ProviderSignIn {
  const now = deps.now ?? Date.now;
  return createProviderSignIn({
    config,
    clients: deps.clients,
    flows: deps.redis
      ? createRedisFlowStore(deps.redis, redisKeys(config.keyPrefix).oauthFlows)
      : createMemoryFlowStore(now),
    identities: createIdentities(deps.db),
    users: deps.users,
    beginSignIn: deps.beginSignIn,
    events: deps.events,
    logger: deps.logger,
    registry: deps.metrics.registry,
    now,
  });
}
