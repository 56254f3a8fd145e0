import { describe, expect, it } from "vitest";
import { effective, type EffectivePreferences, type Preferences } from "../src/services/notifications/preferences";
import { PRIORITY_MATRIX, quietUntil, route, type NotificationChannel } from "../src/services/notifications/channel-rules";
import { call, setupOrg } from "./helpers";

// Preferences over the API (own settings, org defaults, what applies), and
// the routing decisions (priority matrix, overrides, opt-outs, quiet hours)
// as unit tests at a fixed clock.

function expectError(res: { status: number; json: any; text: string }, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.json?.error?.code, res.text).toBe(code);
}

const ALL_ON = { realtime: true, email: true, sms: true };

describe("GET/PUT /api/v1/me/preferences", () => {
  it("starts empty with every channel on and no quiet hours", async () => {
    const org = await setupOrg();
    for (const token of [org.tokens.member, org.tokens.agent, org.tokens.admin]) {
      const res = await call("GET", "/api/v1/me/preferences", { token });
      expect(res.status, res.text).toBe(200);
      expect(res.json).toEqual({ preferences: {}, orgDefaults: {}, effective: { channels: ALL_ON, types: {}, quietHours: null } });
    }
  });

  it("saves valid settings and echoes them, per user", async () => {
    const org = await setupOrg();
    const settings = {
      channels: { email: false, sms: true },
      types: { "alert.new": { email: true }, "deal.won": { realtime: false } },
      quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" },
    };
    const put = await call("PUT", "/api/v1/me/preferences", { token: org.tokens.member, body: settings });
    expect(put.status, put.text).toBe(200);
    expect(put.json.preferences).toEqual(settings);
    expect(put.json.effective).toEqual({
      channels: { realtime: true, email: false, sms: true },
      types: { "alert.new": { email: true }, "deal.won": { realtime: false } },
      quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" },
    });
    const get = await call("GET", "/api/v1/me/preferences", { token: org.tokens.member });
    expect(get.json).toEqual(put.json);
    // Another user of the org is untouched.
    const other = await call("GET", "/api/v1/me/preferences", { token: org.tokens.agent2 });
    expect(other.json.preferences).toEqual({});

    // PUT replaces: what is left out is gone; quietHours null clears them.
    const replaced = await call("PUT", "/api/v1/me/preferences", { token: org.tokens.member, body: { quietHours: null } });
    expect(replaced.status, replaced.text).toBe(200);
    expect(replaced.json.preferences).toEqual({ quietHours: null });
    expect(replaced.json.effective).toEqual({ channels: ALL_ON, types: {}, quietHours: null });
    const empty = await call("PUT", "/api/v1/me/preferences", { token: org.tokens.member, body: {} });
    expect(empty.status, empty.text).toBe(200);
    expect(empty.json.preferences).toEqual({});
  });

  it("refuses invalid settings with 400 VALIDATION_FAILED and keeps the old ones", async () => {
    const org = await setupOrg();
    const saved = { channels: { email: false } };
    expect((await call("PUT", "/api/v1/me/preferences", { token: org.tokens.member, body: saved })).status).toBe(200);
    const quiet = (q: Record<string, unknown>) => ({ quietHours: { start: "22:00", end: "07:00", timeZone: "UTC", ...q } });
    const cases: [string, unknown][] = [
      ["unknown channel key", { channels: { fax: true } }],
      ["in_app is not switchable", { channels: { in_app: false } }],
      ["non-boolean", { channels: { email: "no" } }],
      ["non-boolean in a type", { types: { "alert.new": { email: 0 } } }],
      ["unknown channel in a type", { types: { "alert.new": { pager: true } } }],
      ["hour 25", quiet({ start: "25:00" })],
      ["one-digit hour", quiet({ start: "7:00" })],
      ["minute 60", quiet({ end: "07:60" })],
      ["unknown time zone", quiet({ timeZone: "Mars/Olympus" })],
      ["missing time zone", { quietHours: { start: "22:00", end: "07:00" } }],
      ["start == end", quiet({ start: "08:00", end: "08:00" })],
      ["unknown quiet-hours key", quiet({ days: ["mon"] })],
      ["unknown top-level key", { digest: "daily" }],
      ["bad type name", { types: { "Alert New": { email: false } } }],
      ["not an object", ["email"]],
    ];
    for (const [what, payload] of cases) {
      const res = await call("PUT", "/api/v1/me/preferences", { token: org.tokens.member, body: payload });
      expect(res.status, `${what}: ${res.text}`).toBe(400);
      expect(res.json?.error?.code, what).toBe("VALIDATION_FAILED");
    }
    const get = await call("GET", "/api/v1/me/preferences", { token: org.tokens.member });
    expect(get.json.preferences).toEqual(saved);
  });
});

describe("GET/PUT /api/v1/org/preferences", () => {
  it("is for admins only (403 FORBIDDEN otherwise)", async () => {
    const org = await setupOrg();
    for (const token of [org.tokens.agent, org.tokens.member, org.tokens.service]) {
      expectError(await call("GET", "/api/v1/org/preferences", { token }), 403, "FORBIDDEN");
      expectError(await call("PUT", "/api/v1/org/preferences", { token, body: { channels: { email: false } } }), 403, "FORBIDDEN");
    }
    const get = await call("GET", "/api/v1/org/preferences", { token: org.tokens.admin });
    expect(get.status, get.text).toBe(200);
    expect(get.json).toEqual({});
  });

  it("saves org defaults; effective preferences are the defaults overlaid by the user's own", async () => {
    const org = await setupOrg();
    const defaults = {
      channels: { email: false, sms: false },
      types: { "alert.new": { email: true, sms: true } },
      quietHours: { start: "21:00", end: "08:00", timeZone: "UTC" },
    };
    const put = await call("PUT", "/api/v1/org/preferences", { token: org.tokens.admin, body: defaults });
    expect(put.status, put.text).toBe(200);
    expect(put.json).toEqual(defaults);
    expect((await call("GET", "/api/v1/org/preferences", { token: org.tokens.admin })).json).toEqual(defaults);
    expectError(await call("PUT", "/api/v1/org/preferences", { token: org.tokens.admin, body: { channels: { fax: true } } }), 400, "VALIDATION_FAILED");

    // A user who said nothing gets the defaults.
    const plain = await call("GET", "/api/v1/me/preferences", { token: org.tokens.agent2 });
    expect(plain.json).toEqual({
      preferences: {},
      orgDefaults: defaults,
      effective: { channels: { realtime: true, email: false, sms: false }, types: { "alert.new": { email: true, sms: true } }, quietHours: defaults.quietHours },
    });

    // The user's own settings win key by key.
    const own = {
      channels: { sms: true },
      types: { "alert.new": { sms: false }, "deal.won": { realtime: false } },
      quietHours: null,
    };
    const mine = await call("PUT", "/api/v1/me/preferences", { token: org.tokens.member, body: own });
    expect(mine.status, mine.text).toBe(200);
    expect(mine.json).toEqual({
      preferences: own,
      orgDefaults: defaults,
      effective: {
        channels: { realtime: true, email: false, sms: true },
        types: { "alert.new": { email: true, sms: false }, "deal.won": { realtime: false } },
        quietHours: null,
      },
    });
  });
});

// ───────────────────────────── routing (unit, fixed clock) ─────────────────────────────

const prefs = (user?: Preferences, org?: Preferences): EffectivePreferences => effective(org, user);
const NOW = new Date("2026-01-15T12:00:00Z");
const ALL: EffectivePreferences = prefs();

describe("route: the priority matrix", () => {
  it.each([
    ["CRITICAL", ["in_app", "realtime", "email", "sms"]],
    ["HIGH", ["in_app", "realtime", "email"]],
    ["MEDIUM", ["in_app", "realtime"]],
    ["LOW", ["in_app", "realtime"]],
  ] as const)("%s → %j", (priority, channels) => {
    expect(PRIORITY_MATRIX[priority]).toEqual(channels);
    const r = route({ type: "ops.note", priority }, ALL, NOW);
    expect(r).toEqual({ channels, optedOut: [] });
  });

  it("a channels override narrows and widens the matrix; in_app is always kept", () => {
    expect(route({ type: "t", priority: "CRITICAL", channels: ["in_app"] }, ALL, NOW).channels).toEqual(["in_app"]);
    expect(route({ type: "t", priority: "CRITICAL", channels: ["sms"] }, ALL, NOW).channels).toEqual(["in_app", "sms"]);
    expect(route({ type: "t", priority: "HIGH", channels: ["realtime"] }, ALL, NOW).channels).toEqual(["in_app", "realtime"]);
    expect(route({ type: "t", priority: "LOW", channels: ["in_app", "realtime", "email", "sms"] }, ALL, NOW).channels).toEqual([
      "in_app",
      "realtime",
      "email",
      "sms",
    ]);
    expect(route({ type: "t", priority: "MEDIUM", channels: ["email", "in_app"] }, ALL, NOW).channels).toEqual(["in_app", "email"]);
  });
});

describe("route: preferences", () => {
  it("an opted-out channel is dropped and reported, even when the request asks for it", () => {
    const p = prefs({ channels: { email: false } });
    expect(route({ type: "t", priority: "HIGH" }, p, NOW)).toEqual({ channels: ["in_app", "realtime"], optedOut: ["email"] });
    expect(route({ type: "t", priority: "CRITICAL" }, p, NOW)).toEqual({ channels: ["in_app", "realtime", "sms"], optedOut: ["email"] });
    expect(route({ type: "t", priority: "LOW", channels: ["email"] }, p, NOW)).toEqual({ channels: ["in_app"], optedOut: ["email"] });
    // Only what was wanted can be opted out of.
    expect(route({ type: "t", priority: "MEDIUM" }, p, NOW)).toEqual({ channels: ["in_app", "realtime"], optedOut: [] });
  });

  it("in_app is kept when every other channel is off", () => {
    const p = prefs({ channels: { realtime: false, email: false, sms: false } });
    expect(route({ type: "t", priority: "CRITICAL" }, p, NOW)).toEqual({ channels: ["in_app"], optedOut: ["realtime", "email", "sms"] });
  });

  it("a per-type switch overrides the channel switch, both ways", () => {
    const on = prefs({ channels: { email: false }, types: { "deal.won": { email: true } } });
    expect(route({ type: "deal.won", priority: "HIGH" }, on, NOW).channels).toEqual(["in_app", "realtime", "email"]);
    expect(route({ type: "deal.lost", priority: "HIGH" }, on, NOW).channels).toEqual(["in_app", "realtime"]);

    const off = prefs({ channels: { email: true, sms: true }, types: { "deal.won": { sms: false } } });
    expect(route({ type: "deal.won", priority: "CRITICAL" }, off, NOW)).toEqual({ channels: ["in_app", "realtime", "email"], optedOut: ["sms"] });
    expect(route({ type: "deal.lost", priority: "CRITICAL" }, off, NOW).channels).toEqual(["in_app", "realtime", "email", "sms"]);
  });

  it("org defaults apply where the user said nothing, and the user's setting wins", () => {
    const org: Preferences = { channels: { email: false }, types: { "alert.new": { sms: false } } };
    expect(route({ type: "alert.new", priority: "CRITICAL" }, prefs(undefined, org), NOW).channels).toEqual(["in_app", "realtime"]);
    const user: Preferences = { channels: { email: true }, types: { "alert.new": { sms: true } } };
    expect(route({ type: "alert.new", priority: "CRITICAL" }, prefs(user, org), NOW).channels).toEqual(["in_app", "realtime", "email", "sms"]);
    // A user type setting for one channel keeps the org's type setting for another.
    const merged = prefs({ types: { "alert.new": { email: false } } }, { types: { "alert.new": { sms: false } } });
    expect(merged.types["alert.new"]).toEqual({ email: false, sms: false });
    // The user's quietHours (even null) replace the org's.
    const orgQuiet: Preferences = { quietHours: { start: "22:00", end: "07:00", timeZone: "UTC" } };
    expect(prefs(undefined, orgQuiet).quietHours).toEqual(orgQuiet.quietHours);
    expect(prefs({ quietHours: null }, orgQuiet).quietHours).toBeNull();
    expect(prefs({}, orgQuiet).quietHours).toEqual(orgQuiet.quietHours);
  });
});

describe("quietUntil", () => {
  const paris = { start: "22:00", end: "07:00", timeZone: "Europe/Paris" };

  it("a window that wraps midnight, in winter (Paris UTC+1)", () => {
    // 22:30 Paris → 07:00 Paris the next day.
    expect(quietUntil(paris, new Date("2026-01-15T21:30:00Z"))?.toISOString()).toBe("2026-01-16T06:00:00.000Z");
    // 06:30 Paris → 07:00 Paris the same day.
    expect(quietUntil(paris, new Date("2026-01-16T05:30:00Z"))?.toISOString()).toBe("2026-01-16T06:00:00.000Z");
    // 00:00 Paris.
    expect(quietUntil(paris, new Date("2026-01-15T23:00:00Z"))?.toISOString()).toBe("2026-01-16T06:00:00.000Z");
    // 13:00 Paris: outside.
    expect(quietUntil(paris, new Date("2026-01-15T12:00:00Z"))).toBeUndefined();
    // The start is inside, the end is not.
    expect(quietUntil(paris, new Date("2026-01-15T21:00:00Z"))?.toISOString()).toBe("2026-01-16T06:00:00.000Z");
    expect(quietUntil(paris, new Date("2026-01-16T06:00:00Z"))).toBeUndefined();
    expect(quietUntil(paris, new Date("2026-01-15T20:59:00Z"))).toBeUndefined();
  });

  it("the same window in summer time (Paris UTC+2)", () => {
    expect(quietUntil(paris, new Date("2026-07-15T20:30:00Z"))?.toISOString()).toBe("2026-07-16T05:00:00.000Z");
    expect(quietUntil(paris, new Date("2026-07-16T04:30:00Z"))?.toISOString()).toBe("2026-07-16T05:00:00.000Z");
    // 19:30 UTC is 21:30 in summer: outside.
    expect(quietUntil(paris, new Date("2026-07-15T19:30:00Z"))).toBeUndefined();
    // 05:30 UTC is 07:30 in summer: outside (it would be inside in winter).
    expect(quietUntil(paris, new Date("2026-07-16T05:30:00Z"))).toBeUndefined();
  });

  it("a window that does not wrap (09:00–17:00 UTC), to the minute", () => {
    const office = { start: "09:00", end: "17:00", timeZone: "UTC" };
    expect(quietUntil(office, new Date("2026-03-10T09:00:00Z"))?.toISOString()).toBe("2026-03-10T17:00:00.000Z");
    expect(quietUntil(office, new Date("2026-03-10T12:34:56.789Z"))?.toISOString()).toBe("2026-03-10T17:00:00.000Z");
    expect(quietUntil(office, new Date("2026-03-10T16:59:59Z"))?.toISOString()).toBe("2026-03-10T17:00:00.000Z");
    expect(quietUntil(office, new Date("2026-03-10T17:00:00Z"))).toBeUndefined();
    expect(quietUntil(office, new Date("2026-03-10T08:59:59Z"))).toBeUndefined();
    expect(quietUntil(office, new Date("2026-03-10T23:00:00Z"))).toBeUndefined();
  });
});

describe("route: quiet hours", () => {
  const quiet = prefs({ quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" } });
  const night = new Date("2026-01-15T21:30:00Z"); // 22:30 Paris
  const day = new Date("2026-01-15T12:00:00Z");

  it("defers HIGH email to the end of quiet hours, and only inside them", () => {
    expect(route({ type: "t", priority: "HIGH" }, quiet, night)).toEqual({
      channels: ["in_app", "realtime", "email"],
      optedOut: [],
      deferUntil: new Date("2026-01-16T06:00:00Z"),
    });
    expect(route({ type: "t", priority: "HIGH" }, quiet, day)).toEqual({ channels: ["in_app", "realtime", "email"], optedOut: [] });
    // SMS asked for below CRITICAL is deferred too.
    expect(route({ type: "t", priority: "LOW", channels: ["sms"] }, quiet, night).deferUntil).toEqual(new Date("2026-01-16T06:00:00Z"));
  });

  it("never defers CRITICAL", () => {
    const r = route({ type: "t", priority: "CRITICAL" }, quiet, night);
    expect(r.channels).toEqual(["in_app", "realtime", "email", "sms"]);
    expect(r.deferUntil).toBeUndefined();
    expect(r).not.toHaveProperty("deferUntil");
  });

  it("defers only when email or SMS is in the route", () => {
    const noDefer = (input: Parameters<typeof route>[0], p: EffectivePreferences = quiet) => {
      const r = route(input, p, night);
      expect(r, JSON.stringify(input)).not.toHaveProperty("deferUntil");
    };
    noDefer({ type: "t", priority: "MEDIUM" });
    noDefer({ type: "t", priority: "LOW" });
    noDefer({ type: "t", priority: "HIGH", channels: ["in_app", "realtime"] as NotificationChannel[] });
    // Email opted out: nothing outbound left to defer.
    noDefer({ type: "t", priority: "HIGH" }, prefs({ channels: { email: false }, quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" } }));
    // MEDIUM widened to email is deferred.
    expect(route({ type: "t", priority: "MEDIUM", channels: ["email"] }, quiet, night).deferUntil).toEqual(new Date("2026-01-16T06:00:00Z"));
  });
});
