import { AppError, ErrorCode } from "../errors";

/**
 * Outbound URL safety for webhooks (server-side request forgery).
 *
 * A webhook URL is chosen by an org admin, and Herald POSTs to it from its own
 * network position, so it must not be usable to reach loopback, private,
 * link-local (cloud metadata at 169.254.169.254) or otherwise internal
 * addresses. The check runs when an endpoint is created or changed AND again
 * right before every send, so an endpoint stored under a looser configuration
 * is refused once the configuration tightens.
 *
 * Limits, stated plainly: a Worker cannot resolve a hostname before `fetch`
 * and pin the connection to the checked address, so DNS rebinding (a public
 * name that resolves to 10.0.0.1, or to a different address on the second
 * lookup) cannot be fully prevented here. What we can do is refuse every
 * literal address and internal name, never follow redirects (the sender uses
 * `redirect: "manual"`), and rely on Workers' egress, which reaches the public
 * internet rather than the account's private networks unless a Tunnel/VPC
 * binding is used.
 */

/** Why a URL was refused, or the parsed URL. */
export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

export interface UrlPolicy {
  /** ALLOW_INSECURE_WEBHOOKS=true (local development): http and local/private targets are allowed. */
  allowInsecure: boolean;
}

/** Names that only ever mean "this machine" or "this private network". */
const INTERNAL_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet"];

/**
 * Checks a webhook URL against the policy: https only (http too when
 * insecure), no credentials, no other scheme, and — unless insecure — no
 * loopback, private, link-local, CGNAT, unspecified, multicast or reserved
 * address in any spelling (decimal, octal, hex IPv4; IPv4-mapped IPv6), and
 * no internal hostname (localhost, *.localhost, *.local, *.internal, single
 * labels such as "metadata").
 */
export function checkWebhookUrl(raw: string, policy: UrlPolicy): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a valid absolute URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { ok: false, reason: `scheme ${url.protocol.replace(/:$/, "")} is not allowed; use https` };
  }
  if (url.protocol === "http:" && !policy.allowInsecure) return { ok: false, reason: "only https URLs are allowed" };
  // Secrets in URLs end up in logs and in the delivery log; use the signature instead.
  if (url.username !== "" || url.password !== "") return { ok: false, reason: "credentials in the URL are not allowed" };
  if (policy.allowInsecure) return { ok: true, url };

  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "") return { ok: false, reason: "the URL has no host" };

  if (host.startsWith("[")) {
    const bytes = parseIpv6(host.slice(1, -1));
    if (!bytes) return { ok: false, reason: "unparsable IPv6 address" };
    const why = ipv6Refusal(bytes);
    return why ? { ok: false, reason: why } : { ok: true, url };
  }

  // The WHATWG parser already turns 2130706433, 0177.0.0.1 and 0x7f.1 into
  // 127.0.0.1 for http(s); parsing again here keeps the check correct even if
  // a host reaches us unnormalized.
  const v4 = parseIpv4(host);
  if (v4 === "invalid") return { ok: false, reason: "malformed IPv4 address" };
  if (v4 !== null) {
    const why = ipv4Refusal(v4);
    return why ? { ok: false, reason: why } : { ok: true, url };
  }

  if (host === "localhost" || INTERNAL_SUFFIXES.some((s) => host.endsWith(s))) {
    return { ok: false, reason: `${host} is a local or internal name` };
  }
  if (!host.includes(".")) return { ok: false, reason: `${host} is not a public hostname` };
  return { ok: true, url };
}

/** Like `checkWebhookUrl`, but throws 400 `WEBHOOK_URL_NOT_ALLOWED` with the reason. */
export function assertWebhookUrlAllowed(raw: string, policy: UrlPolicy): URL {
  const check = checkWebhookUrl(raw, policy);
  if (!check.ok) {
    throw new AppError(400, ErrorCode.WEBHOOK_URL_NOT_ALLOWED, `This webhook URL is not allowed: ${check.reason}`, {
      reason: check.reason,
    });
  }
  return check.url;
}

/**
 * Parses an IPv4 host the way inet_aton and the WHATWG URL parser do (1–4
 * parts, each decimal, 0-prefixed octal or 0x-prefixed hex). Returns the
 * 32-bit address, null when the host is not numeric (a hostname), or
 * "invalid" when it looks numeric but is out of range.
 */
export function parseIpv4(host: string): number | null | "invalid" {
  const parts = host.split(".");
  if (parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(part)) n = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) n = parseInt(part.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(part)) n = Number(part);
    else return null;
    numbers.push(n);
  }
  const last = numbers.pop()!;
  if (numbers.some((n) => n > 255) || last >= 256 ** (4 - numbers.length)) return "invalid";
  let addr = last;
  numbers.forEach((n, i) => (addr += n * 256 ** (3 - i)));
  return addr;
}

/** [network, prefix length, label] of IPv4 ranges a webhook may not target. */
const BLOCKED_V4: [number, number, string][] = [
  [v4(0, 0, 0, 0), 8, "the unspecified/\"this network\" range 0.0.0.0/8"],
  [v4(10, 0, 0, 0), 8, "a private address (10.0.0.0/8)"],
  [v4(100, 64, 0, 0), 10, "a carrier-grade NAT address (100.64.0.0/10)"],
  [v4(127, 0, 0, 0), 8, "a loopback address (127.0.0.0/8)"],
  [v4(169, 254, 0, 0), 16, "a link-local address (169.254.0.0/16, includes cloud metadata)"],
  [v4(172, 16, 0, 0), 12, "a private address (172.16.0.0/12)"],
  [v4(192, 0, 0, 0), 24, "an IETF protocol address (192.0.0.0/24)"],
  [v4(192, 168, 0, 0), 16, "a private address (192.168.0.0/16)"],
  [v4(198, 18, 0, 0), 15, "a benchmarking address (198.18.0.0/15)"],
  [v4(224, 0, 0, 0), 4, "a multicast address (224.0.0.0/4)"],
  [v4(240, 0, 0, 0), 4, "a reserved address (240.0.0.0/4, includes broadcast)"],
];

function v4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

function ipv4Refusal(addr: number): string | null {
  for (const [net, bits, label] of BLOCKED_V4) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if (((addr & mask) >>> 0) === net) return `${formatIpv4(addr)} is ${label}`;
  }
  return null;
}

const formatIpv4 = (a: number) => [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join(".");

/** Parses an IPv6 address (with an optional embedded IPv4 tail) into 16 bytes; null when malformed. */
export function parseIpv6(text: string): Uint8Array | null {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (lastColon < 0) return null;
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    if (!/^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/.test(last)) return null;
    const ip = parseIpv4(last);
    if (typeof ip !== "number") return null;
    tail = [ip >>> 16, ip & 0xffff];
    // "::ffff:1.2.3.4" → "::ffff", "::1.2.3.4" → "::"
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const known = head.length + rest.length + tail.length;
  if (halves.length === 2 && known > 7) return null;
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail] : [...head, ...tail];
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g))) return null;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 255;
  });
  return bytes;
}

function ipv6Refusal(b: Uint8Array): string | null {
  const zeroUpTo = (n: number) => b.subarray(0, n).every((x) => x === 0);
  const embedded = (offset: number) => ((b[offset]! << 24) >>> 0) + (b[offset + 1]! << 16) + (b[offset + 2]! << 8) + b[offset + 3]!;
  if (zeroUpTo(16)) return "the unspecified address :: is not allowed";
  if (zeroUpTo(15) && b[15] === 1) return "::1 is a loopback address";
  // ::ffff:a.b.c.d (IPv4-mapped) and ::a.b.c.d (IPv4-compatible, deprecated) reach the IPv4 address.
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) return mappedRefusal(embedded(12));
  if (zeroUpTo(12)) return mappedRefusal(embedded(12));
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address too.
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.subarray(4, 12).every((x) => x === 0)) {
    return mappedRefusal(embedded(12));
  }
  if (b[0] === 0x20 && b[1] === 0x02) return mappedRefusal(embedded(2));
  if ((b[0]! & 0xfe) === 0xfc) return "a unique local address (fc00::/7) is private";
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return "a link-local address (fe80::/10) is not allowed";
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return "a site-local address (fec0::/10) is not allowed";
  if (b[0] === 0xff) return "a multicast address (ff00::/8) is not allowed";
  return null;
}

function mappedRefusal(addr: number): string | null {
  const why = ipv4Refusal(addr);
  return why ? `an IPv6 address embedding ${why}` : null;
}
