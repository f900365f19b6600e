import { generateSecret, generateURI, verify } from "otplib";

const PERIOD = 30; // seconds, what every authenticator app uses
const TOLERANCE = PERIOD; // ±1 step of clock drift between the phone and the server

/** RFC 6238 codes (SHA-1, 6 digits, 30 s) as authenticator apps make them. */
export const totp = {
  newSecret: (): string => generateSecret({ length: 20 }),

  uri: (secret: string, issuer: string, account: string): string =>
    generateURI({ issuer, label: account, secret }),

  /**
   * The time step `code` belongs to when it is right within ±1 step of `nowMs` and later than
   * `afterStep` (a step already used is never accepted again); undefined otherwise.
   */
  async verify(secret: string, code: string, nowMs: number, afterStep?: number): Promise<number | undefined> {
    if (!/^\d{6}$/.test(code)) return undefined;
    const result = await verify({
      secret,
      token: code,
      epoch: Math.floor(nowMs / 1000),
      epochTolerance: TOLERANCE,
      ...(afterStep !== undefined ? { afterTimeStep: afterStep } : {}),
    }).catch(() => undefined);
    return result?.valid && "timeStep" in result ? result.timeStep : undefined;
  },
};
