import { int, type Values } from "./variables.js";

export const SECURITY_VARIABLES = {
  SECURITY_EVENTS_PER_USER: int(1, 1000).default(50), // a user's recent security events kept for /auth/activity
  SECURITY_EVENTS_RETENTION_DAYS: int(1, 3650).default(90), // a user's event list expires this long after its last event
  SECURITY_EVENTS_MEMORY_USERS: int(1).default(10_000), // users whose events the in-process store keeps (no Redis)
};

/** The security event log's retention. */
export function securityConfig(v: Values<typeof SECURITY_VARIABLES>) {
  return {
    securityEvents: {
      perUser: v.SECURITY_EVENTS_PER_USER,
      retentionSeconds: v.SECURITY_EVENTS_RETENTION_DAYS * 86_400,
      memoryUsers: v.SECURITY_EVENTS_MEMORY_USERS,
    },
  };
}

export type SecurityConfig = ReturnType<typeof securityConfig>;
