/**
 * What the JSON routes answer, as zod schemas: the OpenAPI document (operations.ts) is built from them and
 * the conformance test validates every real answer against it. Objects are loose: a field added to an
 * answer is not a break.
 */
import { z } from "zod";
import { ERROR_CATALOG, type ErrorCode } from "../../lib/error-catalog.js";

const isoDate = z.string().describe("ISO 8601 date-time");

export const publicUser = z
  .looseObject({ id: z.string(), email: z.string(), createdAt: isoDate })
  .meta({ id: "PublicUser" });

const ERROR_CODES = Object.keys(ERROR_CATALOG) as [ErrorCode, ...ErrorCode[]];

/** `{"error":{"code","message"}}`, every error the API answers; `field` names the input at fault. */
export const errorBody = z
  .looseObject({
    error: z.looseObject({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      field: z.string().optional(),
    }),
  })
  .meta({ id: "Error", description: "Every error answer; the codes are listed in docs/reference/errors.md" });

/** RFC 8628 section 3.5: `POST /auth/device/token`'s refusals keep the RFC's shape. */
export const deviceError = z
  .object({
    error: z.enum(["authorization_pending", "slow_down", "access_denied", "expired_token"]),
    error_description: z.string(),
  })
  .meta({ id: "DeviceTokenError" });

export const signedIn = z.looseObject({ user: publicUser, next: z.string().optional() });
export const mfaRequired = z.looseObject({
  mfaRequired: z.literal(true),
  methods: z.array(z.enum(["totp", "recovery_code", "passkey"])),
});
export const accepted = z.looseObject({ status: z.string(), message: z.string().optional() });
export const bearerToken = z.looseObject({ token: z.string(), expiresAt: isoDate });
export const me = z.looseObject({ user: publicUser.extend({ emailVerified: z.boolean() }) });

const session = z
  .looseObject({
    id: z.string(),
    createdAt: isoDate,
    lastSeenAt: isoDate,
    ip: z.string(),
    userAgent: z.string(),
    client: z.enum(["browser", "app"]),
    current: z.boolean(),
  })
  .meta({ id: "Session" });
export const sessions = z.looseObject({ sessions: z.array(session) });

export const activity = z.looseObject({
  events: z.array(
    z.looseObject({
      at: isoDate,
      event: z.string(),
      ip: z.string().nullable(),
      device: z.string().nullable(),
      requestId: z.string().nullable(),
    }),
  ),
});

export const deviceCode = z.looseObject({
  device_code: z.string(),
  user_code: z.string(),
  verification_uri: z.string(),
  verification_uri_complete: z.string(),
  expires_in: z.number().int(),
  interval: z.number().int(),
});
export const deviceToken = bearerToken.extend({
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int(),
});

const tokenView = z
  .looseObject({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    createdAt: isoDate,
    expiresAt: isoDate,
    lastUsedAt: isoDate.nullable(),
    endsWithPassword: z.boolean(),
  })
  .meta({ id: "PersonalToken" });
export const tokenCreated = tokenView.extend({ token: z.string() });
export const tokens = z.looseObject({ tokens: z.array(tokenView) });

const identity = z
  .looseObject({ provider: z.string(), subject: z.string(), email: z.string().nullable() })
  .meta({ id: "Identity" });
export const identities = z.looseObject({ identities: z.array(identity) });

export const mfaStatus = z.looseObject({
  totp: z.boolean(),
  recoveryCodesLeft: z.number().int(),
  required: z.boolean(),
});
export const totpSetup = z.looseObject({ secret: z.string(), uri: z.string() });
export const recoveryCodes = z.looseObject({ recoveryCodes: z.array(z.string()) });
/** WebAuthn options for `navigator.credentials.create` / `get`, as @simplewebauthn/server makes them. */
export const webauthnOptions = z.looseObject({ challenge: z.string() });
const passkey = z
  .looseObject({ id: z.string(), name: z.string(), createdAt: isoDate, backedUp: z.boolean() })
  .meta({ id: "Passkey" });
export const passkeyCreated = z.looseObject({ passkey });
export const passkeys = z.looseObject({ passkeys: z.array(passkey) });

export const accountExport = z.looseObject({
  exportedAt: isoDate,
  account: z.looseObject({ id: z.string(), email: z.string() }),
  sessions: z.array(z.looseObject({})),
  identities: z.array(z.looseObject({})),
  secondFactors: z.looseObject({
    totp: z.boolean(),
    recoveryCodesLeft: z.number().int(),
    passkeys: z.array(z.looseObject({ name: z.string(), createdAt: isoDate, backedUp: z.boolean() })),
  }),
  personalTokens: z.array(z.looseObject({ id: z.string(), name: z.string(), scopes: z.array(z.string()) })),
  events: z.array(z.looseObject({})),
});
export const sessionsEnded = z.looseObject({ sessionsEnded: z.number().int() });

const adminUser = z
  .looseObject({
    id: z.string(),
    email: z.string(),
    createdAt: isoDate,
    disabled: z.boolean(),
    emailVerified: z.boolean(),
    groups: z.array(z.string()),
  })
  .meta({ id: "AdminUser" });
export const adminUsers = z.looseObject({ users: z.array(adminUser), nextCursor: z.string().optional() });
const factorSummary = z.looseObject({
  totp: z.boolean(),
  passkeys: z.number().int(),
  recoveryCodesLeft: z.number().int(),
});
export const adminUserDetail = z.looseObject({
  user: adminUser,
  sessions: z.array(z.looseObject({})),
  events: z.array(z.looseObject({})),
  identities: z.array(z.looseObject({})),
  secondFactors: factorSummary,
});
export const queued = z.looseObject({ status: z.literal("queued") });
export const factorsRemoved = z.looseObject({ removed: factorSummary });

export const models = z.looseObject({ models: z.array(z.looseObject({ id: z.string() })) });
export const profile = z.looseObject({
  profile: z.looseObject({ id: z.string(), email: z.string(), memberSince: isoDate }),
});

const check = z.looseObject({ status: z.string() });
export const live = z.looseObject({ status: z.literal("ok") });
export const ready = z.looseObject({
  status: z.enum(["ready", "not_ready"]),
  reason: z.string().optional(),
  checks: z.record(z.string(), z.string()),
});
/** A report whose fields depend on HEALTH_DETAILS and the admin key: docs/reference/health-and-metrics.md. */
export const healthReport = check;
export const cacheMetrics = z.looseObject({
  redis: z.looseObject({}),
  l1: z.looseObject({}),
  metrics: z.looseObject({}),
});
export const invalidated = z.looseObject({ invalidated: z.array(z.string()), redis: z.string() });
export const prometheusText = z.string().describe("Prometheus text exposition format");
export const openApiDocument = z.looseObject({ openapi: z.string(), paths: z.looseObject({}) });
