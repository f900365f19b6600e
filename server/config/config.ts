import { ADMIN_VARIABLES, type AdminConfig, adminConfig } from "./admin.js";
import { CACHE_VARIABLES, type CacheConfig, cacheConfig } from "./cache.js";
import { DATABASE_VARIABLES, type DatabaseConfig, databaseConfig } from "./database.js";
import { DEVICE_VARIABLES, deviceConfig } from "./device.js";
import { FORWARD_AUTH_VARIABLES, forwardAuthConfig } from "./forward-auth.js";
import { HEALTH_VARIABLES, type HealthConfig, healthConfig } from "./health.js";
import { HTTP_VARIABLES, type HttpConfig, httpConfig } from "./http.js";
import { MAIL_VARIABLES, type MailConfig, mailConfig } from "./mail.js";
import { MFA_VARIABLES, type MfaConfig, mfaConfig } from "./mfa.js";
import { OIDC_VARIABLES, type OidcConfig, oidcConfig } from "./oidc.js";
import { OPENAI_VARIABLES, type OpenAIConfig, openaiConfig } from "./openai.js";
import { PASSWORD_VARIABLES, type PasswordConfig, passwordConfig } from "./password.js";
import { PLATFORM_VARIABLES, type PlatformConfig, platformConfig } from "./platform.js";
import { RATE_LIMIT_VARIABLES, type RateLimitConfig, rateLimitConfig } from "./rate-limit.js";
import { queueRedisConfig, REDIS_VARIABLES, type RedisSectionConfig, redisConfig } from "./redis.js";
import { SECURITY_VARIABLES, type SecurityConfig, securityConfig } from "./security.js";
import { SESSION_VARIABLES, type SessionConfig, sessionConfig } from "./session.js";
import { TOKEN_VARIABLES, tokensConfig } from "./tokens.js";
import { ConfigError, cleanEnv, type Env, parseVariables, type Report } from "./variables.js";
import { WORKERS_VARIABLES, type WorkersConfig, workersConfig } from "./workers.js";

export { HEALTH_DEPENDENCIES, type HealthDependency } from "./health.js";
export type { EmailVerificationMode } from "./mail.js";
export type { MfaMode } from "./mfa.js";
export { detectPlatform } from "./platform.js";
export type { RateLimitSetting } from "./rate-limit.js";
export type { RedisConfig, SentinelConfig } from "./redis.js";
export { ConfigError, type Env, redactUrl } from "./variables.js";
export type { CacheConfig };

/**
 * Every section's variables. A section is one file of this folder: `X_VARIABLES` (a zod schema per
 * variable, one line each) and `xConfig(values, deps, report)`, which maps them to its part of Config and
 * runs the checks that span several of its variables; its type is that function's return type. A new
 * section adds its variables here, its type to Config and its call to loadConfig.
 */
const VARIABLES = {
  ...PLATFORM_VARIABLES,
  ...HTTP_VARIABLES,
  ...REDIS_VARIABLES,
  ...DATABASE_VARIABLES,
  ...SESSION_VARIABLES,
  ...PASSWORD_VARIABLES,
  ...CACHE_VARIABLES,
  ...RATE_LIMIT_VARIABLES,
  ...HEALTH_VARIABLES,
  ...OPENAI_VARIABLES,
  ...ADMIN_VARIABLES,
  ...WORKERS_VARIABLES,
  ...FORWARD_AUTH_VARIABLES,
  ...SECURITY_VARIABLES,
  ...MAIL_VARIABLES,
  ...TOKEN_VARIABLES,
  ...DEVICE_VARIABLES,
  ...MFA_VARIABLES,
  ...OIDC_VARIABLES,
};

/** Every environment variable the server reads. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(VARIABLES);

export type Config = PlatformConfig &
  HttpConfig &
  RedisSectionConfig &
  DatabaseConfig &
  SessionConfig &
  PasswordConfig & { cache: CacheConfig } & RateLimitConfig &
  HealthConfig &
  OpenAIConfig &
  AdminConfig &
  WorkersConfig &
  ReturnType<typeof forwardAuthConfig> &
  SecurityConfig &
  MailConfig &
  ReturnType<typeof tokensConfig> &
  ReturnType<typeof deviceConfig> &
  MfaConfig &
  OidcConfig & {
    /** Warnings to log once the logger exists. */
    warnings: string[];
  };

/** Parses and validates the environment once; throws a ConfigError naming every bad variable. */
/**
 * `serves: false` for a process that answers no browser (the mail worker, the CLIs): checks that only
 * matter to the web process, such as the passkeys' origin, are not made.
 */
export function loadConfig(env: Env, options: { serves?: boolean } = {}): Config {
  const cleaned = cleanEnv(env);
  const report: Report = { problems: [], warnings: [] };
  const v = parseVariables(VARIABLES, cleaned, report.problems);

  const platform = platformConfig(v, cleaned, report);
  const { isProduction } = platform;
  const http = httpConfig(v, { isProduction, platform: platform.platform }, report);
  const redis = redisConfig(v, report);
  const session = sessionConfig(v, { isProduction }, report);
  const cache = cacheConfig(v, report);
  const mfa = mfaConfig(v, { isProduction, sessionSecrets: session.session.secrets }, report);
  const openai = openaiConfig(v);
  const health = healthConfig(
    v,
    {
      isProduction,
      drainingSeconds: v.RAILWAY_DEPLOYMENT_DRAINING_SECONDS,
      hasRedis: redis.redis !== undefined,
      hasOpenAI: openai.openai.apiKey !== undefined,
    },
    report,
  );
  const workers = workersConfig(
    v,
    {
      hasDatabaseUrl: v.DATABASE_URL !== undefined,
      hasRedis: redis.redis !== undefined,
      hasSecret: v.SESSION_SECRET !== undefined,
    },
    report,
  );
  const mail = mailConfig(
    v,
    {
      isProduction,
      port: http.port,
      appOrigins: http.appOrigins,
      railwayPublicDomain: v.RAILWAY_PUBLIC_DOMAIN,
      dataDir: v.DATA_DIR,
      hasRedis: redis.redis !== undefined,
      queueRedis: queueRedisConfig(v, redis.redis, report),
    },
    report,
  );
  const forwardAuth = forwardAuthConfig(
    v,
    {
      cookieName: session.session.cookieName,
      appOrigins: http.appOrigins,
      emailVerification: mail.mail.emailVerification,
    },
    report,
  );
  const oidc = oidcConfig(v, cleaned, { isProduction, publicUrl: mail.mail.publicUrl }, report);
  // Passkeys are bound to the site's origin (their relying party): never to a guessed one.
  if (
    isProduction &&
    options.serves !== false &&
    mfa.mfa.mode !== "off" &&
    !v.PUBLIC_URL &&
    http.appOrigins.length === 0 &&
    !v.RAILWAY_PUBLIC_DOMAIN
  ) {
    report.problems.push(
      "PUBLIC_URL: required in production unless MFA=off (passkeys are bound to the site's origin, e.g. https://auth.example.com; APP_ORIGIN's first origin also serves)",
    );
  }
  if (report.problems.length > 0) throw new ConfigError(report.problems);

  return {
    ...platform,
    ...http,
    ...redis,
    ...databaseConfig(v),
    ...session,
    ...passwordConfig(v),
    ...cache,
    ...rateLimitConfig(v),
    ...health,
    ...openai,
    ...adminConfig(v),
    ...workers,
    ...forwardAuth,
    ...securityConfig(v),
    ...tokensConfig(v),
    ...deviceConfig(v),
    ...mail,
    ...mfa,
    ...oidc,
    warnings: report.warnings,
  };
}
