import { createHash, randomInt } from "node:crypto";

export const RECOVERY_CODE_COUNT = 10;
// No 0/O, 1/I/L: a code read off paper is typed right. 10 characters of 31 ≈ 50 bits each.
const ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz";
const LENGTH = 10;

/** Ten new recovery codes, shown once as `xxxxx-xxxxx`. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = Array.from({ length: LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/**
 * What is stored of a code: the SHA-256 of its normal form (case and separators ignored). The codes are
 * random with ~50 bits each and guesses are rate-limited, so a fast hash is enough.
 */
export function recoveryCodeHash(code: string): string | undefined {
  const normal = code.toLowerCase().replace(/[\s-]/g, "");
  if (normal.length !== LENGTH || [...normal].some((c) => !ALPHABET.includes(c))) return undefined;
  return createHash("sha256").update(`recovery-code|${normal}`).digest("base64url");
}
