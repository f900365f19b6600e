import { isIPv4 } from "node:net";
import type { Request } from "express";

/**
 * The subject for per-client limits: `req.ip` as Express resolved it through `trust proxy` (a hop count,
 * never `true`, so a client's own X-Forwarded-For entries are ignored). IPv4-mapped IPv6 becomes plain
 * IPv4; other IPv6 addresses are cut to their first `ipv6PrefixBits` bits, because one subscriber usually
 * holds a whole /64 and could otherwise rotate addresses to escape the limit.
 */
export function clientAddressKey(req: Request, ipv6PrefixBits: number): string {
  return addressKey(req.ip, ipv6PrefixBits);
}

/** The one bucket shared by every client whose address is missing or does not parse. */
export const UNKNOWN_ADDRESS = "unknown";

/**
 * `ip` with a port and IPv6 brackets removed (`1.2.3.4:5678` and `[2001:db8::1]:443`, as some proxies
 * write X-Forwarded-For), so one client's changing source ports do not make it a new client each time.
 */
function withoutPort(ip: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(ip);
  if (bracketed) return bracketed[1] as string;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(ip);
  return v4 ? (v4[1] as string) : ip;
}

export function addressKey(raw: string | undefined, ipv6PrefixBits: number): string {
  if (!raw) return UNKNOWN_ADDRESS;
  if (isIPv4(raw)) return raw; // the common case allocates nothing
  const ip = withoutPort(raw);
  if (isIPv4(ip)) return ip;
  // Anything else must be IPv6: text that is neither counts as one shared client, not one each.
  if (!ip.includes(":")) return UNKNOWN_ADDRESS;
  // IPv4 clients of a dual-stack listener, e.g. `::ffff:203.0.113.7`.
  if (ip.startsWith("::ffff:") && ip.lastIndexOf(":") === 6 && ip.includes(".")) return ip.slice(7);
  const groups = parseIpv6(ip);
  if (!groups) return UNKNOWN_ADDRESS;
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0) {
    if (groups[5] === 0xffff) {
      const hi = groups[6] as number;
      const lo = groups[7] as number;
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
  }
  const bits = Math.min(128, Math.max(0, ipv6PrefixBits));
  const kept: string[] = [];
  for (let i = 0; i * 16 < bits; i++) {
    const keep = Math.min(16, bits - i * 16);
    const mask = (0xffff << (16 - keep)) & 0xffff;
    kept.push(((groups[i] as number) & mask).toString(16));
  }
  return `${kept.join(":")}/${bits}`;
}

/** Eight 16-bit groups, or undefined when `ip` is not IPv6 text. Accepts `::`, a zone and a dotted tail. */
function parseIpv6(ip: string): number[] | undefined {
  let text = ip;
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  const lastColon = text.lastIndexOf(":");
  const dotted = text.slice(lastColon + 1);
  if (dotted.includes(".")) {
    // `::ffff:1.2.3.4` → `::ffff:102:304`
    const octets = dotted.split(".").map((o) => (/^\d{1,3}$/.test(o) ? Number(o) : 256));
    if (octets.length !== 4 || octets.some((o) => o > 255)) return undefined;
    const [a, b, c, d] = octets as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0] as string);
  const rest = halves.length === 2 ? parseGroups(halves[1] as string) : [];
  if (!head || !rest) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = head;
  for (let i = 0; i < missing; i++) groups.push(0);
  for (const g of rest) groups.push(g);
  return groups;
}

function parseGroups(part: string): number[] | undefined {
  if (part === "") return [];
  const groups: number[] = [];
  for (const g of part.split(":")) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    groups.push(Number.parseInt(g, 16));
  }
  return groups;
}
