import { describe, expect, it } from "vitest";
import { loadConfig } from "../../server/config/config.js";
import { configMessage, productionEnv } from "../helpers/config-env.js";

describe("sign-in provider configuration", () => {
  it("reads each OIDC_<NAME>_* group, with presets, a secret list and the default scopes", () => {
    const config = loadConfig({
      PUBLIC_URL: "https://auth.example.com",
      OIDC_GOOGLE_CLIENT_ID: "g-id",
      OIDC_GOOGLE_CLIENT_SECRET: "new, old",
      OIDC_MICROSOFT_CLIENT_ID: "m-id",
      OIDC_MICROSOFT_CLIENT_SECRET: "m",
      OIDC_MICROSOFT_TENANT: "contoso.onmicrosoft.com",
      OIDC_ACME_ISSUER: "https://id.acme.example",
      OIDC_ACME_CLIENT_ID: "a-id",
      OIDC_ACME_CLIENT_SECRET: "a",
      OIDC_ACME_SCOPES: "openid email",
      OIDC_TRUSTED_FOR_LINKING: "Google",
    });
    expect(config.oidc.providers).toEqual([
      {
        name: "acme",
        issuer: "https://id.acme.example",
        clientId: "a-id",
        clientSecrets: ["a"],
        scopes: "openid email",
      },
      {
        name: "google",
        issuer: "https://accounts.google.com",
        clientId: "g-id",
        clientSecrets: ["new", "old"],
        scopes: "openid email profile",
      },
      {
        name: "microsoft",
        issuer: "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
        clientId: "m-id",
        clientSecrets: ["m"],
        scopes: "openid email profile",
      },
    ]);
    expect(config.oidc.trustedForLinking).toEqual(["google"]);
    expect(config.warnings.join("\n")).toMatch(
      /OIDC_TRUSTED_FOR_LINKING=google: whoever controls an address/,
    );
  });

  it("names every incomplete or unsafe group at once, and never shows a secret", () => {
    const message = configMessage({
      ...productionEnv(),
      OIDC_ACME_ISSUER: "http://id.acme.example",
      OIDC_ACME_CLIENT_SECRET: "very-secret-value",
      OIDC_LOCAL_ISSUER: "http://localhost:8080",
      OIDC_LOCAL_CLIENT_ID: "l",
      OIDC_LOCAL_CLIENT_SECRET: "l",
      OIDC_LOCAL_SCOPES: "email",
      OIDC_TRUSTED_FOR_LINKING: "nobody",
    });
    expect(message).toMatch(/OIDC_ACME_CLIENT_ID: required/);
    expect(message).toMatch(/OIDC_ACME_ISSUER: must be https:\/\//);
    expect(message).toMatch(/OIDC_LOCAL_ISSUER: must be https:\/\//); // http://localhost only outside production
    expect(message).toMatch(/OIDC_LOCAL_SCOPES: must include openid/);
    expect(message).toMatch(/OIDC_TRUSTED_FOR_LINKING: "nobody" is not a configured provider/);
    expect(message).not.toContain("very-secret-value");
  });
});
