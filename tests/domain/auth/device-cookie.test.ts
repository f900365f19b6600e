import { afterEach, describe, expect, it, vi } from "vitest";
import { createDeviceCookies } from "../../../server/domain/auth/device-cookie.js";

const OLD = "old-secret-that-is-long-enough-0123456789";
const NEW = "new-secret-that-is-long-enough-0123456789";
const owner = { id: "6f1d2c1e-8a8e-4a8a-9a55-5d2b1f0e9c11", credentialEpoch: 2, deviceEpoch: 0 };

afterEach(() => vi.useRealTimers());

describe("device cookies", () => {
  it("verify the device they were issued for, and keep its id when renewed", () => {
    const devices = createDeviceCookies({ secrets: [NEW], ttlSeconds: 3600 });
    const value = devices.issue(owner);
    const id = devices.verify(value, owner);
    expect(id).toMatch(/^[\w-]{22}$/);
    expect(devices.verify(devices.issue(owner, id), owner)).toBe(id);
    expect(devices.verify(devices.issue(owner), owner)).not.toBe(id);
  });

  it("are void for another user, a moved epoch, a changed field, or after their lifetime", () => {
    vi.useFakeTimers({ now: new Date("2026-11-28T10:00:00Z") });
    const devices = createDeviceCookies({ secrets: [NEW], ttlSeconds: 3600 });
    const value = devices.issue(owner);
    expect(devices.verify(value, { ...owner, id: "0b7c2a3e-1111-4a8a-9a55-5d2b1f0e9c11" })).toBeUndefined();
    expect(devices.verify(value, { ...owner, credentialEpoch: 3 })).toBeUndefined();
    expect(devices.verify(value, { ...owner, deviceEpoch: 1 })).toBeUndefined();
    const [v, user, device, issued, mac] = value.split(".");
    expect(devices.verify([v, user, device, Number(issued) + 1, mac].join("."), owner)).toBeUndefined();
    expect(devices.verify([v, user, `${device}x`, issued, mac].join("."), owner)).toBeUndefined();
    expect(devices.verify("garbage", owner)).toBeUndefined();
    expect(devices.verify(undefined, owner)).toBeUndefined();
    vi.setSystemTime(new Date("2026-11-28T10:59:00Z"));
    expect(devices.verify(value, owner)).toBeDefined();
    vi.setSystemTime(new Date("2026-11-28T11:01:00Z"));
    expect(devices.verify(value, owner)).toBeUndefined();
  });

  it("survive a secret rotation: the first secret signs, all verify", () => {
    const before = createDeviceCookies({ secrets: [OLD], ttlSeconds: 3600 }).issue(owner);
    const rotated = createDeviceCookies({ secrets: [NEW, OLD], ttlSeconds: 3600 });
    expect(rotated.verify(before, owner)).toBeDefined();
    expect(createDeviceCookies({ secrets: [NEW], ttlSeconds: 3600 }).verify(before, owner)).toBeUndefined();
  });

  it("carry a trust bound to the factor epoch, kept by a renewal of the same device, never extended", () => {
    vi.useFakeTimers({ now: new Date("2026-11-28T10:00:00Z") });
    const devices = createDeviceCookies({ secrets: [NEW], ttlSeconds: 90 * 86_400 });
    const DAY = 86_400; // seconds
    const plain = devices.issue(owner);
    expect(devices.isTrusted(plain, owner, 0, 30 * DAY)).toBe(false);
    const trusted = devices.trust(plain, owner, 4);
    expect(devices.verify(trusted, owner)).toBe(devices.verify(plain, owner)); // the same device
    expect(devices.isTrusted(trusted, owner, 4, 30 * DAY)).toBe(true);
    expect(devices.isTrusted(trusted, owner, 5, 30 * DAY)).toBe(false); // a factor changed
    expect(devices.isTrusted(trusted, { ...owner, credentialEpoch: 3 }, 4, 30 * DAY)).toBe(false);
    expect(devices.isTrusted(trusted, { ...owner, deviceEpoch: 1 }, 4, 30 * DAY)).toBe(false);
    expect(devices.isTrusted(trusted, owner, 4, 0)).toBe(false);

    vi.setSystemTime(new Date("2026-12-20T10:00:00Z"));
    const id = devices.verify(trusted, owner);
    const renewed = devices.issue(owner, id, trusted);
    expect(devices.isTrusted(renewed, owner, 4, 30 * DAY)).toBe(true);
    expect(devices.isTrusted(devices.issue(owner, undefined, trusted), owner, 4, 30 * DAY)).toBe(false);
    expect(devices.isTrusted(devices.issue(owner, id), owner, 4, 30 * DAY)).toBe(false);
    // Thirty days after the choice, whatever the renewals.
    vi.setSystemTime(new Date("2026-12-28T10:00:01Z"));
    expect(devices.verify(renewed, owner)).toBe(id);
    expect(devices.isTrusted(renewed, owner, 4, 30 * DAY)).toBe(false);
  });
});
