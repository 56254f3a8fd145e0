import ipaddr from "ipaddr.js";
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
 * Addresses are classified with ipaddr.js (its IANA special-purpose ranges):
 * only global unicast is allowed. IPv6 forms that embed an IPv4 address
 * (IPv4-mapped, IPv4-translated, NAT64 64:ff9b::/96, 6to4) are judged by the
 * address they embed; forms that can never be a public target (local-use
 * NAT64 64:ff9b:1::/48, Teredo, IPv4-compatible ::a.b.c.d, anything outside
 * 2000::/3) are refused whole.
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
 * address outside global unicast in any spelling (decimal, octal, hex IPv4;
 * IPv6 with an embedded IPv4) and no internal hostname (localhost,
 * *.localhost, *.local, *.internal, single labels such as "metadata"),
 * trailing dots ignored.
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

  const why = hostRefusal(url.hostname);
  return why ? { ok: false, reason: why } : { ok: true, url };
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

/** Why a URL host (as `URL.hostname` gives it) may not be a webhook target, or null. */
function hostRefusal(hostname: string): string | null {
  const host = hostname.toLowerCase().replace(/\.+$/, "");
  if (host === "") return "the URL has no host";

  if (host.startsWith("[")) {
    const text = host.slice(1, -1);
    if (!ipaddr.IPv6.isValid(text)) return "unparsable IPv6 address";
    return ipv6Refusal(ipaddr.IPv6.parse(text));
  }
  // The WHATWG parser already turns 2130706433, 0177.0.0.1 and 0x7f.1 into
  // 127.0.0.1 for http(s); ipaddr.js reads those spellings too, so the check
  // holds even for a host that reaches us unnormalized.
  if (ipaddr.IPv4.isValid(host)) return ipv4Refusal(ipaddr.IPv4.parse(host));
  // A host whose last label is a number is an IPv4 address to the URL parser (WHATWG "ends in a number").
  if (/^(\d+|0x[0-9a-f]*)$/.test(host.split(".").at(-1)!)) return "malformed IPv4 address";

  if (host === "localhost" || INTERNAL_SUFFIXES.some((s) => host.endsWith(s))) return `${host} is a local or internal name`;
  if (!host.includes(".")) return `${host} is not a public hostname`;
  return null;
}

/** How each ipaddr.js IPv4 range is named in a refusal. */
const V4_LABELS: Record<string, string> = {
  unspecified: 'the unspecified/"this network" range 0.0.0.0/8',
  broadcast: "the broadcast address",
  multicast: "a multicast address (224.0.0.0/4)",
  linkLocal: "a link-local address (169.254.0.0/16, includes cloud metadata)",
  loopback: "a loopback address (127.0.0.0/8)",
  carrierGradeNat: "a carrier-grade NAT address (100.64.0.0/10)",
  private: "a private address (RFC 1918)",
  reserved: "a reserved, documentation or benchmarking address",
  benchmarking: "a benchmarking address (198.18.0.0/15)",
  as112: "an AS112 (DNS sink) address",
  amt: "an AMT relay anycast address",
};

function ipv4Refusal(addr: ipaddr.IPv4): string | null {
  const range = addr.range();
  if (range === "unicast") return null;
  return `${addr.toString()} is ${V4_LABELS[range] ?? `in the special-purpose range "${range}"`}`;
}

const v6 = (cidr: string) => ipaddr.IPv6.parseCIDR(cidr);
const NAT64_WELL_KNOWN = v6("64:ff9b::/96");
const NAT64_LOCAL_USE = v6("64:ff9b:1::/48");
const IPV4_TRANSLATED = v6("::ffff:0:0:0/96");
const IPV4_COMPATIBLE = v6("::/96");
const SIX_TO_FOUR = v6("2002::/16");
const TEREDO = v6("2001::/32");
const GLOBAL_UNICAST = v6("2000::/3");

/** The IPv4 address in bits `from`..`from+32` of an IPv6 address. */
function embeddedIpv4(addr: ipaddr.IPv6, fromByte: number): ipaddr.IPv4 {
  return new ipaddr.IPv4(addr.toByteArray().slice(fromByte, fromByte + 4));
}

function viaEmbedded(addr: ipaddr.IPv6, form: string, fromByte: number): string | null {
  const why = ipv4Refusal(embeddedIpv4(addr, fromByte));
  return why ? `${addr.toString()} is ${form} of ${why}` : null;
}

function ipv6Refusal(addr: ipaddr.IPv6): string | null {
  const text = addr.toString();
  const range = addr.range();
  if (range === "unspecified") return "the unspecified address :: is not allowed";
  if (range === "loopback") return "::1 is a loopback address";
  if (addr.isIPv4MappedAddress()) return viaEmbedded(addr, "the IPv4-mapped form", 12);
  if (addr.match(IPV4_TRANSLATED)) return viaEmbedded(addr, "the IPv4-translated form (RFC 2765)", 12);
  if (addr.match(NAT64_WELL_KNOWN)) return viaEmbedded(addr, "the NAT64 form (64:ff9b::/96)", 12);
  if (addr.match(NAT64_LOCAL_USE)) return `${text} is in the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215), which only routes inside a private network`;
  if (addr.match(SIX_TO_FOUR)) return viaEmbedded(addr, "the 6to4 form", 2);
  if (addr.match(TEREDO)) return `${text} is a Teredo address (2001::/32), a tunnel that can lead anywhere`;
  if (addr.match(IPV4_COMPATIBLE)) return `${text} is a deprecated IPv4-compatible address (::/96)`;
  if (range === "uniqueLocal") return "a unique local address (fc00::/7) is private";
  if (range === "linkLocal") return "a link-local address (fe80::/10) is not allowed";
  if (range === "multicast") return "a multicast address (ff00::/8) is not allowed";
  if (range !== "unicast") return `${text} is in the special-purpose range "${range}"`;
  if (!addr.match(GLOBAL_UNICAST)) return `${text} is not a global unicast address (2000::/3)`;
  return null;
}
