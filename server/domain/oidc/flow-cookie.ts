import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The browser's half of a sign-in flow: a random id with its HMAC under the session secrets (the first
 * signs, all verify, so a secret rotation does not break flows in flight). The flow itself is stored under
 * the id's SHA-256: reading the store gives nothing a browser could present.
 */
export function createFlowCookies(secrets: string[]) {
  const mac = (secret: string, id: string) =>
    createHmac("sha256", secret).update(`oauth-flow:${id}`).digest("base64url");
  return {
    /** A new flow's id, the cookie value that carries it, and the key it is stored under. */
    issue() {
      const id = randomBytes(32).toString("base64url");
      return { cookie: `${id}.${mac(secrets[0] as string, id)}`, key: storeKey(id) };
    },
    /** The store key of the flow a cookie names, or undefined when it is missing or not ours. */
    verify(cookie: string | undefined): string | undefined {
      const [id, sig, extra] = (cookie ?? "").split(".");
      if (!id || !sig || extra !== undefined) return undefined;
      const given = Buffer.from(sig);
      const ok = secrets.some((secret) => {
        const expected = Buffer.from(mac(secret, id));
        return expected.length === given.length && timingSafeEqual(expected, given);
      });
      return ok ? storeKey(id) : undefined;
    },
  };
}

function storeKey(id: string): string {
  return createHash("sha256").update(id).digest("base64url");
}
