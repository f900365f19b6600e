import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const VERSION = "v1";
const IV_BYTES = 12; // AES-GCM's recommended nonce size
const TAG_BYTES = 16;

/** Encrypts small secrets at rest; `context` (a user id) is authenticated, so a value moved to another row fails. */
export interface SecretBox {
  seal(plain: string, context: string): string;
  /** The plain text, and whether it was sealed under a key other than the newest (re-seal it). */
  open(sealed: string, context: string): { plain: string; stale: boolean } | undefined;
}

/**
 * AES-256-GCM under keys derived from MFA_ENCRYPTION_KEY (newest first): the first seals, every one opens,
 * so a key is rotated by putting the new one in front and dropping the old once every value was re-sealed.
 */
export function createSecretBox(keys: string[]): SecretBox {
  const derived = keys.map((key) => createHash("sha256").update(`secret-box|${key}`).digest());
  return {
    seal(plain, context) {
      const key = derived[0];
      if (!key) throw new Error("no encryption key configured");
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `${VERSION}.${iv.toString("base64url")}.${body.toString("base64url")}`;
    },
    open(sealed, context) {
      const [version, iv, body] = sealed.split(".");
      if (version !== VERSION || !iv || !body) return undefined;
      const data = Buffer.from(body, "base64url");
      if (data.length < TAG_BYTES) return undefined;
      for (const [index, key] of derived.entries()) {
        try {
          const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
          decipher.setAAD(Buffer.from(context));
          decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
          const plain = Buffer.concat([
            decipher.update(data.subarray(0, data.length - TAG_BYTES)),
            decipher.final(),
          ]);
          return { plain: plain.toString("utf8"), stale: index > 0 };
        } catch {
          // Not this key: try the next one.
        }
      }
      return undefined;
    },
  };
}
