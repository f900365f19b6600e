import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { isoCBOR } from "@simplewebauthn/server/helpers";

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest();
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const b64 = (b: Buffer | Uint8Array) => Buffer.from(b).toString("base64url");

const UP = 0x01; // user present
const UV = 0x04; // user verified
const AT = 0x40; // attested credential data included

/**
 * A software authenticator holding one P-256 passkey, answering WebAuthn ceremonies as a browser would
 * pass them on (`none` attestation). `clone()` copies the key and the counter as it is now, as an
 * extracted authenticator would.
 */
export function softAuthenticator(o: { origin: string; rpId: string; key?: ReturnType<typeof newKey> }) {
  const key = o.key ?? newKey();
  let counter = key.counter;
  let userHandle: string | undefined;
  const rpIdHash = sha256(o.rpId);
  const clientData = (type: string, challenge: string) =>
    Buffer.from(JSON.stringify({ type, challenge, origin: o.origin, crossOrigin: false }));

  return {
    credentialId: b64(key.id),
    create(options: PublicKeyCredentialCreationOptionsJSON): RegistrationResponseJSON {
      userHandle = options.user.id;
      const cose = isoCBOR.encode(
        new Map<number, number | Uint8Array>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, key.x],
          [-3, key.y],
        ]),
      );
      const attested = Buffer.concat([
        Buffer.alloc(16),
        Buffer.from([0, key.id.length]),
        key.id,
        Buffer.from(cose),
      ]);
      const authData = Buffer.concat([rpIdHash, Buffer.from([UP | UV | AT]), u32(counter), attested]);
      const attestationObject = isoCBOR.encode(
        new Map<string, unknown>([
          ["fmt", "none"],
          ["attStmt", new Map()],
          ["authData", authData],
        ]) as never,
      );
      return {
        id: b64(key.id),
        rawId: b64(key.id),
        type: "public-key",
        response: {
          clientDataJSON: b64(clientData("webauthn.create", options.challenge)),
          attestationObject: b64(attestationObject),
          transports: ["internal"],
        },
        clientExtensionResults: {},
      };
    },
    get(options: PublicKeyCredentialRequestOptionsJSON, verified = true): AuthenticationResponseJSON {
      counter += 1;
      key.counter = counter;
      const data = clientData("webauthn.get", options.challenge);
      const authData = Buffer.concat([rpIdHash, Buffer.from([UP | (verified ? UV : 0)]), u32(counter)]);
      const signature = sign("sha256", Buffer.concat([authData, sha256(data)]), key.privateKey);
      return {
        id: b64(key.id),
        rawId: b64(key.id),
        type: "public-key",
        response: {
          clientDataJSON: b64(data),
          authenticatorData: b64(authData),
          signature: b64(signature),
          ...(userHandle ? { userHandle } : {}),
        },
        clientExtensionResults: {},
      };
    },
    /** A copy of the key with the counter as it is now. */
    clone() {
      return softAuthenticator({ ...o, key: { ...key, counter } });
    },
  };
}

function newKey() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  return {
    id: randomBytes(16),
    privateKey,
    x: Buffer.from(jwk.x as string, "base64url"),
    y: Buffer.from(jwk.y as string, "base64url"),
    counter: 0,
  };
}
