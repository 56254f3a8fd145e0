import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { AckFrame, ErrorFrame, EventFrame, ServerFrame, StateFrame, UnreadCountData } from "../src/protocol";
import { alertBody, call, makeToken, setupOrg, uniqueOrg } from "./helpers";
import { orgBeside, orgD1 } from "./shard-helpers";
import { connect, type TestSocket } from "./ws-helpers";

// The in-app inbox end to end through the Worker: creation (validation,
// templates, idempotency), the inbox routes and their counts, cross-user and
// cross-org isolation, realtime sync across devices (events, the unread badge,
// socket mark:read), routing by priority and preferences into delivery rows,
// and the notifications the alert service creates. Every test uses its own org.
//
// The queue consumer may send queued deliveries at any time, so a delivery
// that may have gone out is asserted as queued or sent; skipped and deferred
// are exact (the consumer never sends those early).

type Org = Awaited<ReturnType<typeof setupOrg>>;
type Created = { ids: string[]; notifications: { id: string; userId: string; channels: string[] }[] };
type Delivery = {
  id: string;
  channel: "email" | "sms" | "webhook";
  address: string | null;
  status: "queued" | "sent" | "failed" | "skipped" | "deferred";
  attempts: number;
  lastError: string | null;
  scheduledFor: string | null;
  sentAt: string | null;
};

const MAY_HAVE_SENT = ["queued", "sent"];

function expectError(res: { status: number; json: any; text: string }, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.json?.error?.code, res.text).toBe(code);
}

/** POST /api/v1/notifications; fails the test unless it answers 201. */
async function notify(token: string, body: Record<string, unknown>, headers?: Record<string, string>): Promise<Created> {
  const res = await call("POST", "/api/v1/notifications", { token, body, headers });
  expect(res.status, res.text).toBe(201);
  return res.json as Created;
}

/** A minimal valid create body. */
function body(userIds: string[], overrides: Record<string, unknown> = {}) {
  return { userIds, type: "ops.note", title: "Something happened", ...overrides };
}

async function notificationRows(orgId: string): Promise<number> {
  const row = await (await orgD1(orgId)).prepare("SELECT count(*) AS n FROM notifications WHERE org_id = ?").bind(orgId).first<{ n: number }>();
  return row!.n;
}

async function deliveryRowCount(orgId: string): Promise<number> {
  const row = await (await orgD1(orgId)).prepare("SELECT count(*) AS n FROM deliveries WHERE org_id = ?").bind(orgId).first<{ n: number }>();
  return row!.n;
}

/** The delivery rows of a notification, through the API (as the org's admin). */
async function deliveriesOf(token: string, notificationId: string): Promise<Delivery[]> {
  const res = await call("GET", `/api/v1/notifications/${notificationId}/deliveries`, { token });
  expect(res.status, res.text).toBe(200);
  return res.json.items as Delivery[];
}

async function list(token: string, query = "") {
  const res = await call("GET", `/api/v1/notifications${query}`, { token });
  expect(res.status, res.text).toBe(200);
  return res.json as { items: any[]; nextCursor: string | null };
}

async function counts(token: string) {
  const res = await call("GET", "/api/v1/notifications/counts", { token });
  expect(res.status, res.text).toBe(200);
  return res.json as { unread: number; unseen: number; total: number };
}

async function unreadCount(token: string): Promise<number> {
  const res = await call("GET", "/api/v1/notifications/unread-count", { token });
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.json)).toEqual(["count"]);
  return res.json.count as number;
}

/** Sets directory fields of a user (as the org's admin). */
async function putUser(org: Org, id: string, fields: Record<string, unknown>) {
  const res = await call("PUT", `/api/v1/users/${id}`, { token: org.tokens.admin, body: fields });
  expect([200, 201], res.text).toContain(res.status);
}

async function putMyPreferences(token: string, prefs: Record<string, unknown>) {
  const res = await call("PUT", "/api/v1/me/preferences", { token, body: prefs });
  expect(res.status, res.text).toBe(200);
}

const ids = (items: { id: string }[]) => items.map((i) => i.id);

// ───────────────────────────── socket helpers ─────────────────────────────

const isUnreadCount = (f: ServerFrame): f is StateFrame<UnreadCountData> => f.type === "unread:count";

/** Waits for a frame matching `pred` that arrived at or after index `from` of the socket's frames. */
function waitAfter<T extends ServerFrame = ServerFrame>(s: TestSocket, from: number, pred: (f: ServerFrame) => boolean): Promise<T> {
  return s.waitFor<T>((f) => s.frames.indexOf(f) >= from && pred(f));
}

const countIs = (count: number, unseen?: number) => (f: ServerFrame) =>
  isUnreadCount(f) && f.data.count === count && (unseen === undefined || f.data.unseen === unseen);

/** Connects a device of the user and waits for its first badge. */
async function device(token: string): Promise<{ socket: TestSocket; badge: StateFrame<UnreadCountData> }> {
  const socket = await connect("/api/v1/ws", { token });
  const badge = await socket.waitFor<StateFrame<UnreadCountData>>((f) => isUnreadCount(f));
  return { socket, badge };
}

/** Quiet hours as HH:MM in UTC, `minutes` from `now` (may be negative). */
function hhmmUtc(now: number, minutes: number): string {
  const d = new Date(now + minutes * 60_000);
  return `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
}

// ───────────────────────────── creation ─────────────────────────────

describe("POST /api/v1/notifications", () => {
  it("creates one notification per userId, and each recipient sees theirs with every field", async () => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/notifications", {
      token: org.tokens.admin,
      body: {
        userIds: ["member1", "agent2"],
        type: "deal.won",
        title: "Deal won: Acme",
        message: "Ada closed Acme for $12,000",
        actionUrl: "https://app.example.com/deals/42",
        actionText: "View deal",
        priority: "LOW",
        data: { dealId: "42", amount: 12000 },
      },
    });
    expect(res.status, res.text).toBe(201);
    const created = res.json as Created;
    expect(created.ids).toHaveLength(2);
    expect(new Set(created.ids).size).toBe(2);
    expect(created.notifications).toEqual([
      { id: created.ids[0], userId: "member1", channels: ["in_app", "realtime"] },
      { id: created.ids[1], userId: "agent2", channels: ["in_app", "realtime"] },
    ]);
    for (const id of created.ids) expect(id).toMatch(/^ntf_[0-9A-Z]{26}$/);

    const mine = await list(org.tokens.member);
    expect(mine.items).toHaveLength(1);
    expect(mine.nextCursor).toBeNull();
    expect(mine.items[0]).toEqual({
      id: created.ids[0],
      userId: "member1",
      type: "deal.won",
      title: "Deal won: Acme",
      message: "Ada closed Acme for $12,000",
      actionUrl: "https://app.example.com/deals/42",
      actionText: "View deal",
      priority: "LOW",
      data: { dealId: "42", amount: 12000 },
      channels: ["in_app", "realtime"],
      createdAt: expect.any(String),
      seenAt: null,
      readAt: null,
      archivedAt: null,
    });
    expect(Number.isNaN(Date.parse(mine.items[0].createdAt))).toBe(false);

    const theirs = await list(org.tokens.agent2);
    expect(ids(theirs.items)).toEqual([created.ids[1]]);
    // Neither the sender nor anyone else got one.
    expect((await list(org.tokens.admin)).items).toEqual([]);
    expect((await list(org.tokens.agent)).items).toEqual([]);
    expect(await notificationRows(org.org)).toBe(2);
  });

  it("defaults priority to MEDIUM, accepts a path as actionUrl, and lets services create", async () => {
    const org = await setupOrg();
    const created = await notify(org.tokens.service, body(["member1"], { actionUrl: "/deals/42" }));
    const [item] = (await list(org.tokens.member)).items;
    expect(item).toMatchObject({ id: created.ids[0], priority: "MEDIUM", actionUrl: "/deals/42", message: null, actionText: null, data: {} });
  });

  it("is refused to agents and members (403 FORBIDDEN), creating nothing", async () => {
    const org = await setupOrg();
    for (const token of [org.tokens.agent, org.tokens.member]) {
      expectError(await call("POST", "/api/v1/notifications", { token, body: body(["member1"]) }), 403, "FORBIDDEN");
    }
    expect(await notificationRows(org.org)).toBe(0);
  });

  it("refuses invalid bodies with 400 VALIDATION_FAILED and creates nothing", async () => {
    const org = await setupOrg();
    const cases: [string, unknown][] = [
      ["no title and no template", { userIds: ["member1"], type: "ops.note" }],
      ["no type and no template", { userIds: ["member1"], title: "Hi" }],
      ["template plus title", { userIds: ["member1"], template: "deal.won", variables: { account: "A", owner: "B", amount: 1 }, title: "Hi" }],
      ["template without variables", { userIds: ["member1"], template: "deal.won" }],
      ["empty userIds", body([])],
      ["101 userIds", body(Array.from({ length: 101 }, (_, i) => `user${i}`))],
      ["duplicate userIds", body(["member1", "member1"])],
      ["unknown priority", body(["member1"], { priority: "URGENT" })],
      ["bad channel", body(["member1"], { channels: ["fax"] })],
      ["duplicate channel", body(["member1"], { channels: ["email", "email"] })],
      ["javascript: actionUrl", body(["member1"], { actionUrl: "javascript:alert(1)" })],
      ["protocol-relative actionUrl", body(["member1"], { actionUrl: "//evil.example.com/x" })],
      ["bad type name", body(["member1"], { type: "Deal Won" })],
      ["empty title", body(["member1"], { title: "   " })],
      ["unknown field", body(["member1"], { foo: 1 })],
    ];
    for (const [what, payload] of cases) {
      const res = await call("POST", "/api/v1/notifications", { token: org.tokens.admin, body: payload });
      expect(res.status, `${what}: ${res.text}`).toBe(400);
      expect(res.json?.error?.code, what).toBe("VALIDATION_FAILED");
    }
    expect(await notificationRows(org.org)).toBe(0);
    expect(await deliveryRowCount(org.org)).toBe(0);
  });

  it("refuses an unknown template (400 UNKNOWN_TEMPLATE) and a missing variable (400 VALIDATION_FAILED)", async () => {
    const org = await setupOrg();
    expectError(
      await call("POST", "/api/v1/notifications", { token: org.tokens.admin, body: { userIds: ["member1"], template: "no.such", variables: {} } }),
      400,
      "UNKNOWN_TEMPLATE",
    );
    const missing = await call("POST", "/api/v1/notifications", {
      token: org.tokens.admin,
      body: { userIds: ["member1"], template: "deal.won", variables: { account: "Acme", owner: "Ada" } },
    });
    expectError(missing, 400, "VALIDATION_FAILED");
    expect(missing.text).toContain("amount");
    expect(await notificationRows(org.org)).toBe(0);
  });

  it("renders templates with the variables as plain text (escaping is the HTML renderer's job)", async () => {
    const org = await setupOrg();
    const created = await notify(org.tokens.admin, {
      userIds: ["member1"],
      template: "deal.won",
      variables: { account: "<script>alert(1)</script>", owner: `Ada "A" & Co`, amount: 12000 },
    });
    const [item] = (await list(org.tokens.member)).items;
    expect(item.id).toBe(created.ids[0]);
    expect(item.type).toBe("deal.won");
    expect(item.actionText).toBe("View deal");
    expect(item.title).toBe("Deal won: <script>alert(1)</script>");
    expect(item.message).toBe(`Ada "A" & Co closed <script>alert(1)</script> for 12000`);
  });

  it("refuses data over 16 KiB with 413 DATA_TOO_LARGE", async () => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/notifications", { token: org.tokens.admin, body: body(["member1"], { data: { blob: "x".repeat(17_000) } }) });
    expectError(res, 413, "DATA_TOO_LARGE");
    expect(await notificationRows(org.org)).toBe(0);
    // Just under the limit is fine.
    await notify(org.tokens.admin, body(["member1"], { data: { blob: "x".repeat(16_000) } }));
    expect(await notificationRows(org.org)).toBe(1);
  });

  it("Idempotency-Key: a retry replays the same ids and creates nothing; another body with the key is 422", async () => {
    const org = await setupOrg();
    const headers = { "Idempotency-Key": "notify-1" };
    const payload = body(["member1", "agent2"], { priority: "HIGH" });
    const first = await call("POST", "/api/v1/notifications", { token: org.tokens.admin, body: payload, headers });
    expect(first.status, first.text).toBe(201);
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();
    const rowsAfterFirst = await notificationRows(org.org);
    const deliveriesAfterFirst = await deliveryRowCount(org.org);
    expect(rowsAfterFirst).toBe(2);

    const retry = await call("POST", "/api/v1/notifications", { token: org.tokens.admin, body: payload, headers });
    expect(retry.status, retry.text).toBe(201);
    expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
    expect(retry.json).toEqual(first.json);
    expect(await notificationRows(org.org)).toBe(rowsAfterFirst);
    expect(await deliveryRowCount(org.org)).toBe(deliveriesAfterFirst);
    expect(ids((await list(org.tokens.member)).items)).toEqual([first.json.ids[0]]);

    const reused = await call("POST", "/api/v1/notifications", { token: org.tokens.admin, body: { ...payload, title: "Another" }, headers });
    expectError(reused, 422, "IDEMPOTENCY_KEY_REUSED");
    expect(await notificationRows(org.org)).toBe(rowsAfterFirst);

    // Another key is another request.
    const other = await notify(org.tokens.admin, payload, { "Idempotency-Key": "notify-2" });
    expect(other.ids).not.toEqual(first.json.ids);
    expect(await notificationRows(org.org)).toBe(4);
  });
});

// ───────────────────────────── the inbox ─────────────────────────────

describe("the inbox", () => {
  it("a user only ever sees their own: another user's or another org's id is 404 NOTIFICATION_NOT_FOUND", async () => {
    const org = await setupOrg();
    const { ids: [theirs] } = await notify(org.tokens.admin, body(["member1"]));
    const { ids: [own] } = await notify(org.tokens.admin, body(["agent2"], { title: "For agent2" }));

    expect(ids((await list(org.tokens.agent2)).items)).toEqual([own]);
    expect(ids((await list(org.tokens.agent2, "?status=all&archived=true")).items)).toEqual([]);

    // On the same shard, so only the org check keeps them apart.
    const other = await orgBeside(org.org);
    const outsider = await makeToken({ org: other, sub: "admin1", role: "admin" });
    const outsiderMember = await makeToken({ org: other, sub: "member1", role: "member" });
    for (const token of [org.tokens.agent2, outsider, outsiderMember]) {
      for (const [method, path] of [
        ["POST", `/api/v1/notifications/${theirs}/read`],
        ["POST", `/api/v1/notifications/${theirs}/unread`],
        ["POST", `/api/v1/notifications/${theirs}/archive`],
        ["DELETE", `/api/v1/notifications/${theirs}`],
        ["GET", `/api/v1/notifications/${theirs}/deliveries`],
      ] as const) {
        expectError(await call(method, path, { token }), 404, "NOTIFICATION_NOT_FOUND");
      }
    }
    // An unknown id is the same 404.
    expectError(await call("POST", "/api/v1/notifications/ntf_nope/read", { token: org.tokens.member }), 404, "NOTIFICATION_NOT_FOUND");
    // Another org's admin and member see nothing, and nothing was changed.
    expect((await list(outsider)).items).toEqual([]);
    expect((await list(outsiderMember)).items).toEqual([]);
    expect(await counts(outsiderMember)).toEqual({ unread: 0, unseen: 0, total: 0 });
    const [item] = (await list(org.tokens.member)).items;
    expect(item).toMatchObject({ id: theirs, readAt: null, seenAt: null, archivedAt: null });
    expect(await counts(org.tokens.member)).toEqual({ unread: 1, unseen: 1, total: 1 });
  });

  it("paginates newest first with a cursor, without repeats", async () => {
    const org = await setupOrg();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push(...(await notify(org.tokens.admin, body(["member1"], { title: `N${i}` }))).ids);

    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(org.tokens.member, `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(5);
    expect(new Set(ids(seen)).size).toBe(5);
    expect(new Set(ids(seen))).toEqual(new Set(created));
    // Newest first: (createdAt, id) never increases.
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1], seen[i]];
      const order = Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id > b.id ? 1 : a.id < b.id ? -1 : 0);
      expect(order, `${a.id} before ${b.id}`).toBeGreaterThan(0);
    }
    // The full list agrees with the pages.
    expect(ids((await list(org.tokens.member, "?limit=100")).items)).toEqual(ids(seen));
    // A malformed cursor is refused.
    expectError(await call("GET", "/api/v1/notifications?cursor=not-a-cursor", { token: org.tokens.member }), 400, "INVALID_CURSOR");
  });

  it("counts and lists follow read, unread, archive, delete, seen-all and read-all", async () => {
    const org = await setupOrg();
    const m = org.tokens.member;
    const { ids: [n1] } = await notify(org.tokens.admin, body(["member1"], { title: "N1" }));
    const { ids: [n2] } = await notify(org.tokens.admin, body(["member1"], { title: "N2" }));
    const { ids: [n3] } = await notify(org.tokens.admin, body(["member1"], { title: "N3" }));
    await notify(org.tokens.admin, body(["agent2"], { title: "Someone else's" }));

    expect(await counts(m)).toEqual({ unread: 3, unseen: 3, total: 3 });
    expect(await unreadCount(m)).toBe(3);

    // read: readAt and seenAt set.
    const read = await call("POST", `/api/v1/notifications/${n1}/read`, { token: m });
    expect(read.status, read.text).toBe(200);
    expect(read.json).toMatchObject({ id: n1, readAt: expect.any(String), seenAt: expect.any(String), archivedAt: null });
    expect(await counts(m)).toEqual({ unread: 2, unseen: 2, total: 3 });
    expect(await unreadCount(m)).toBe(2);
    expect(ids((await list(m, "?status=read")).items)).toEqual([n1]);
    expect(new Set(ids((await list(m, "?status=unread")).items))).toEqual(new Set([n2, n3]));
    expect((await list(m, "?status=all")).items).toHaveLength(3);
    // Reading again keeps the first readAt.
    const again = await call("POST", `/api/v1/notifications/${n1}/read`, { token: m });
    expect(again.status).toBe(200);
    expect(again.json.readAt).toBe(read.json.readAt);

    // unread: readAt cleared, still seen.
    const unread = await call("POST", `/api/v1/notifications/${n1}/unread`, { token: m });
    expect(unread.status, unread.text).toBe(200);
    expect(unread.json).toMatchObject({ id: n1, readAt: null, seenAt: read.json.seenAt });
    expect(await counts(m)).toEqual({ unread: 3, unseen: 2, total: 3 });
    expect((await list(m, "?status=read")).items).toEqual([]);

    // archive: out of the default list and the counts, in archived=true.
    const archived = await call("POST", `/api/v1/notifications/${n2}/archive`, { token: m });
    expect(archived.status, archived.text).toBe(200);
    expect(archived.json).toMatchObject({ id: n2, archivedAt: expect.any(String) });
    expect(await counts(m)).toEqual({ unread: 2, unseen: 1, total: 2 });
    expect(await unreadCount(m)).toBe(2);
    expect(new Set(ids((await list(m)).items))).toEqual(new Set([n1, n3]));
    expect(new Set(ids((await list(m, "?archived=false&status=all")).items))).toEqual(new Set([n1, n3]));
    expect(ids((await list(m, "?archived=true")).items)).toEqual([n2]);
    expect(ids((await list(m, "?archived=true&status=unread")).items)).toEqual([n2]);
    expect((await list(m, "?archived=true&status=read")).items).toEqual([]);

    // delete: gone from every list and the counts; afterwards 404.
    const del = await call("DELETE", `/api/v1/notifications/${n3}`, { token: m });
    expect(del.status, del.text).toBe(204);
    expect(await counts(m)).toEqual({ unread: 1, unseen: 0, total: 1 });
    expect(ids((await list(m)).items)).toEqual([n1]);
    expect(ids((await list(m, "?archived=true")).items)).toEqual([n2]);
    expectError(await call("POST", `/api/v1/notifications/${n3}/read`, { token: m }), 404, "NOTIFICATION_NOT_FOUND");
    expectError(await call("DELETE", `/api/v1/notifications/${n3}`, { token: m }), 404, "NOTIFICATION_NOT_FOUND");

    // seen-all: the badge goes to 0, unread stays.
    await notify(org.tokens.admin, body(["member1"], { title: "N4" }));
    await notify(org.tokens.admin, body(["member1"], { title: "N5" }));
    expect(await counts(m)).toEqual({ unread: 3, unseen: 2, total: 3 });
    const seenAll = await call("POST", "/api/v1/notifications/seen-all", { token: m });
    expect(seenAll.status, seenAll.text).toBe(200);
    expect(seenAll.json.updated).toBeGreaterThanOrEqual(2);
    expect(await counts(m)).toEqual({ unread: 3, unseen: 0, total: 3 });
    expect(await unreadCount(m)).toBe(3);

    // read-all: every unread one read, the archived one included (the whole inbox).
    const readAll = await call("POST", "/api/v1/notifications/read-all", { token: m });
    expect(readAll.status, readAll.text).toBe(200);
    expect(readAll.json).toEqual({ updated: 4 });
    expect(await counts(m)).toEqual({ unread: 0, unseen: 0, total: 3 });
    expect(await unreadCount(m)).toBe(0);
    expect((await list(m, "?status=unread")).items).toEqual([]);
    expect((await list(m, "?status=read")).items).toHaveLength(3);
    // Nothing left to read.
    const none = await call("POST", "/api/v1/notifications/read-all", { token: m });
    expect(none.json).toEqual({ updated: 0 });

    // The other user's inbox was never touched.
    expect(await counts(org.tokens.agent2)).toEqual({ unread: 1, unseen: 1, total: 1 });
  });

  it("refuses bad list queries with 400 VALIDATION_FAILED", async () => {
    const org = await setupOrg();
    for (const q of ["?status=new", "?archived=yes", "?limit=0", "?limit=101"]) {
      expectError(await call("GET", `/api/v1/notifications${q}`, { token: org.tokens.member }), 400, "VALIDATION_FAILED");
    }
  });
});

// ───────────────────────────── realtime across devices ─────────────────────────────

describe("realtime across devices", () => {
  it("syncs new notifications, reads and the badge to every device; mark:read and mark:all:read over the socket", async () => {
    const org = await setupOrg();
    const a = await device(org.tokens.member);
    const b = await device(org.tokens.member);
    for (const { badge } of [a, b]) {
      expect(badge).toMatchObject({ type: "unread:count", stream: "user", data: { count: 0, unseen: 0 } });
      expect(typeof badge.ts).toBe("string");
      expect(badge).not.toHaveProperty("id");
      expect(badge).not.toHaveProperty("seq");
    }
    const A = a.socket;
    const B = b.socket;

    // A new notification: notification:new, then the badge, on both devices.
    let markA = A.frames.length;
    let markB = B.frames.length;
    const { ids: [n1] } = await notify(org.tokens.admin, body(["member1"], { title: "First" }));
    for (const [s, mark] of [[A, markA], [B, markB]] as const) {
      const badge = await waitAfter<StateFrame<UnreadCountData>>(s, mark, countIs(1, 1));
      expect(badge.data).toEqual({ count: 1, unseen: 1 });
      expect(badge).not.toHaveProperty("seq");
      const ev = await waitAfter<EventFrame<any>>(s, mark, (f) => f.type === "notification:new");
      expect(ev.stream).toBe("user");
      expect(typeof ev.id).toBe("string");
      expect(typeof ev.seq).toBe("number");
      expect(ev.data.notification).toMatchObject({ id: n1, userId: "member1", title: "First", readAt: null });
      expect(s.frames.indexOf(ev)).toBeLessThan(s.frames.indexOf(badge));
    }
    // Both devices saw the same event with the same seq.
    const evA = A.events("notification:new") as EventFrame[];
    const evB = B.events("notification:new") as EventFrame[];
    expect(evA.map((f) => [f.id, f.seq])).toEqual(evB.map((f) => [f.id, f.seq]));

    // Device A marks it read over its socket: A gets the ack, B the event and the badge.
    markA = A.frames.length;
    markB = B.frames.length;
    A.send({ type: "mark:read", ref: "m1", notificationId: n1 });
    const ack = await waitAfter<AckFrame>(A, markA, (f) => f.type === "ack" && (f as AckFrame).ref === "m1");
    expect(ack).toMatchObject({ type: "ack", ref: "m1", notificationId: n1, readAt: expect.any(String) });
    const readOnB = await waitAfter<EventFrame<any>>(B, markB, (f) => f.type === "notification:read");
    expect(readOnB.data.ids).toEqual([n1]);
    expect(typeof readOnB.seq).toBe("number");
    const badgeB = await waitAfter<StateFrame<UnreadCountData>>(B, markB, countIs(0));
    expect(badgeB.data).toEqual({ count: 0, unseen: 0 });
    expect(B.frames.indexOf(readOnB)).toBeLessThan(B.frames.indexOf(badgeB));
    await waitAfter(A, markA, (f) => f.type === "notification:read");
    await waitAfter(A, markA, countIs(0));
    const [item] = (await list(org.tokens.member)).items;
    expect(item.readAt).toBe(ack.readAt);

    // mark:read of an unknown id, or of another user's: an error frame with the ref; the socket stays open.
    const { ids: [others] } = await notify(org.tokens.admin, body(["agent2"]));
    for (const [ref, id] of [["bad1", "ntf_unknown"], ["bad2", others]] as const) {
      const mark = A.frames.length;
      A.send({ type: "mark:read", ref, notificationId: id });
      const err = await waitAfter<ErrorFrame>(A, mark, (f) => (f.type === "error" || f.type === "ack") && (f as ErrorFrame).ref === ref);
      expect(err).toMatchObject({ type: "error", ref, code: "NOT_FOUND" });
    }
    expect((await list(org.tokens.agent2)).items[0]).toMatchObject({ id: others, readAt: null });

    // mark:all:read over the (still open) socket.
    await notify(org.tokens.admin, body(["member1"], { title: "Second" }));
    await notify(org.tokens.admin, body(["member1"], { title: "Third" }));
    await A.waitFor(countIs(2));
    markA = A.frames.length;
    markB = B.frames.length;
    A.send({ type: "mark:all:read", ref: "m2" });
    const ackAll = await waitAfter<AckFrame>(A, markA, (f) => (f.type === "ack" || f.type === "error") && (f as AckFrame).ref === "m2");
    expect(ackAll).toEqual({ type: "ack", ref: "m2", updated: 2 });
    await waitAfter(B, markB, (f) => f.type === "notification:read");
    await waitAfter(B, markB, countIs(0, 0));
    expect(await counts(org.tokens.member)).toEqual({ unread: 0, unseen: 0, total: 3 });

    // A read over REST syncs to both devices as well.
    markA = A.frames.length;
    markB = B.frames.length;
    const { ids: [n4] } = await notify(org.tokens.admin, body(["member1"], { title: "Fourth" }));
    await waitAfter(A, markA, countIs(1));
    await waitAfter(B, markB, countIs(1));
    markA = A.frames.length;
    markB = B.frames.length;
    const rest = await call("POST", `/api/v1/notifications/${n4}/read`, { token: org.tokens.member });
    expect(rest.status, rest.text).toBe(200);
    for (const [s, mark] of [[A, markA], [B, markB]] as const) {
      const ev = await waitAfter<EventFrame<any>>(s, mark, (f) => f.type === "notification:read");
      expect(ev.data.ids).toEqual([n4]);
      expect(ev.data.notification).toMatchObject({ id: n4, readAt: rest.json.readAt });
      await waitAfter(s, mark, countIs(0));
    }

    // Errors never closed the socket.
    expect(A.ws.readyState).toBe(WebSocket.OPEN);
    A.close();
    B.close();
  });

  it("a new device gets the current badge right after connecting", async () => {
    const org = await setupOrg();
    await notify(org.tokens.admin, body(["member1"]));
    const { ids: [n2] } = await notify(org.tokens.admin, body(["member1"]));
    await call("POST", `/api/v1/notifications/${n2}/read`, { token: org.tokens.member });
    const { socket, badge } = await device(org.tokens.member);
    expect(badge.data).toEqual({ count: 1, unseen: 1 });
    expect(socket.frames.findIndex((f) => f.type === "connected")).toBeLessThan(socket.frames.indexOf(badge));
    socket.close();
  });

  it("DELETE and archive reach every device with the badge", async () => {
    const org = await setupOrg();
    const { socket: s } = await device(org.tokens.member);
    const { ids: [n1] } = await notify(org.tokens.admin, body(["member1"]));
    const { ids: [n2] } = await notify(org.tokens.admin, body(["member1"]));
    await s.waitFor(countIs(2, 2));
    let mark = s.frames.length;
    expect((await call("DELETE", `/api/v1/notifications/${n1}`, { token: org.tokens.member })).status).toBe(204);
    const deleted = await waitAfter<EventFrame<any>>(s, mark, (f) => f.type === "notification:deleted");
    expect(deleted.data.ids).toEqual([n1]);
    await waitAfter(s, mark, countIs(1, 1));
    mark = s.frames.length;
    expect((await call("POST", `/api/v1/notifications/${n2}/archive`, { token: org.tokens.member })).status).toBe(200);
    const archived = await waitAfter<EventFrame<any>>(s, mark, (f) => f.type === "notification:archived");
    expect(archived.data.ids).toEqual([n2]);
    await waitAfter(s, mark, countIs(0, 0));
    s.close();
  });
});

// ───────────────────────────── routing on creation ─────────────────────────────

describe("routing on creation", () => {
  it("LOW and MEDIUM go in-app and realtime only, with no delivery rows", async () => {
    const org = await setupOrg();
    await putUser(org, "member1", { email: "member1@example.com", phone: "+14155550123" });
    for (const priority of ["LOW", "MEDIUM"]) {
      const created = await notify(org.tokens.admin, body(["member1"], { priority }));
      expect(created.notifications[0]!.channels).toEqual(["in_app", "realtime"]);
      expect(await deliveriesOf(org.tokens.admin, created.ids[0]!)).toEqual([]);
    }
    expect(await deliveryRowCount(org.org)).toBe(0);
  });

  it("HIGH adds email to a user with an email in the directory", async () => {
    const org = await setupOrg();
    await putUser(org, "member1", { email: "member1@example.com", phone: "+14155550123" });
    const created = await notify(org.tokens.admin, body(["member1"], { priority: "HIGH" }));
    expect(created.notifications[0]!.channels).toEqual(["in_app", "realtime", "email"]);
    const rows = await deliveriesOf(org.tokens.admin, created.ids[0]!);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ channel: "email", address: "member1@example.com", scheduledFor: null });
    expect(MAY_HAVE_SENT).toContain(rows[0]!.status);
  });

  it("CRITICAL adds email and SMS", async () => {
    const org = await setupOrg();
    await putUser(org, "member1", { email: "member1@example.com", phone: "+14155550123" });
    const created = await notify(org.tokens.admin, body(["member1"], { priority: "CRITICAL" }));
    expect(created.notifications[0]!.channels).toEqual(["in_app", "realtime", "email", "sms"]);
    const rows = await deliveriesOf(org.tokens.admin, created.ids[0]!);
    expect(rows.map((r) => r.channel).sort()).toEqual(["email", "sms"]);
    const byChannel = Object.fromEntries(rows.map((r) => [r.channel, r]));
    expect(byChannel.email).toMatchObject({ address: "member1@example.com", scheduledFor: null });
    expect(byChannel.sms).toMatchObject({ address: "+14155550123", scheduledFor: null });
    for (const r of rows) expect(MAY_HAVE_SENT).toContain(r.status);
  });

  it("a recipient with no email or phone is skipped with the reason recorded", async () => {
    const org = await setupOrg();
    // member1 has no email nor phone (setupOrg); "ghost" is not in the directory at all.
    const created = await notify(org.tokens.admin, body(["member1", "ghost"], { priority: "CRITICAL" }));
    for (const n of created.notifications) expect(n.channels).toEqual(["in_app", "realtime", "email", "sms"]);
    const [member, ghost] = created.ids;
    const rows = await deliveriesOf(org.tokens.admin, member!);
    const byChannel = Object.fromEntries(rows.map((r) => [r.channel, r]));
    expect(rows).toHaveLength(2);
    expect(byChannel.email).toMatchObject({ status: "skipped", address: null, lastError: expect.stringMatching(/email/i) });
    expect(byChannel.sms).toMatchObject({ status: "skipped", address: null, lastError: expect.stringMatching(/phone/i) });
    const ghostRows = await deliveriesOf(org.tokens.admin, ghost!);
    expect(ghostRows.map((r) => r.status)).toEqual(["skipped", "skipped"]);
    for (const r of ghostRows) expect(r.lastError).toMatch(/directory/i);

    // With an email but no phone: email goes, SMS is skipped.
    await putUser(org, "agent2", { email: "agent2@example.com" });
    const second = await notify(org.tokens.admin, body(["agent2"], { priority: "CRITICAL" }));
    const rows2 = Object.fromEntries((await deliveriesOf(org.tokens.admin, second.ids[0]!)).map((r) => [r.channel, r]));
    expect(MAY_HAVE_SENT).toContain(rows2.email!.status);
    expect(rows2.sms).toMatchObject({ status: "skipped", lastError: expect.stringMatching(/phone/i) });
  });

  it("a channels override narrows or widens the matrix", async () => {
    const org = await setupOrg();
    await putUser(org, "member1", { email: "member1@example.com", phone: "+14155550123" });
    const widened = await notify(org.tokens.admin, body(["member1"], { priority: "MEDIUM", channels: ["in_app", "email"] }));
    expect(widened.notifications[0]!.channels).toEqual(["in_app", "email"]);
    const rows = await deliveriesOf(org.tokens.admin, widened.ids[0]!);
    expect(rows.map((r) => r.channel)).toEqual(["email"]);
    expect(MAY_HAVE_SENT).toContain(rows[0]!.status);

    const narrowed = await notify(org.tokens.admin, body(["member1"], { priority: "CRITICAL", channels: ["realtime"] }));
    // in_app is the record and always kept.
    expect(narrowed.notifications[0]!.channels).toEqual(["in_app", "realtime"]);
    expect(await deliveriesOf(org.tokens.admin, narrowed.ids[0]!)).toEqual([]);
  });

  it("with realtime off in the override there is no notification:new frame, but the row exists", async () => {
    const org = await setupOrg();
    const { socket } = await device(org.tokens.member);
    const quiet = await notify(org.tokens.admin, body(["member1"], { title: "Silent", channels: ["in_app"] }));
    expect(quiet.notifications[0]!.channels).toEqual(["in_app"]);
    // A marker published after it: once it arrives, the silent one would have too.
    const marker = await notify(org.tokens.admin, body(["member1"], { title: "Marker" }));
    await socket.waitFor((f) => f.type === "notification:new" && (f as EventFrame<any>).data.notification.id === marker.ids[0]);
    const news = socket.events("notification:new") as EventFrame<any>[];
    expect(news.map((f) => f.data.notification.id)).toEqual([marker.ids[0]]);
    expect(new Set(ids((await list(org.tokens.member)).items))).toEqual(new Set([quiet.ids[0], marker.ids[0]]));
    socket.close();
  });
});

// ───────────────────────────── preferences applied ─────────────────────────────

describe("preferences applied on creation", () => {
  it("a user who opted out of email gets no email for HIGH", async () => {
    const org = await setupOrg();
    await putUser(org, "member1", { email: "member1@example.com" });
    await putMyPreferences(org.tokens.member, { channels: { email: false } });
    const created = await notify(org.tokens.admin, body(["member1", "agent2"], { priority: "HIGH" }));
    const byUser = Object.fromEntries(created.notifications.map((n) => [n.userId, n]));
    expect(byUser.member1!.channels).toEqual(["in_app", "realtime"]);
    expect(await deliveriesOf(org.tokens.admin, byUser.member1!.id)).toEqual([]);
    // Someone else is not affected by member1's choice.
    expect(byUser.agent2!.channels).toEqual(["in_app", "realtime", "email"]);
    // An explicit channels override does not beat an opt-out either.
    const forced = await notify(org.tokens.admin, body(["member1"], { priority: "HIGH", channels: ["in_app", "email"] }));
    expect(forced.notifications[0]!.channels).toEqual(["in_app"]);
    expect(await deliveriesOf(org.tokens.admin, forced.ids[0]!)).toEqual([]);
  });

  it("a per-type switch wins over the channel switch, both ways", async () => {
    const org = await setupOrg();
    await putUser(org, "member1", { email: "member1@example.com" });
    await putMyPreferences(org.tokens.member, { channels: { email: false }, types: { "deal.won": { email: true } } });
    const dealWon = await notify(org.tokens.admin, body(["member1"], { type: "deal.won", priority: "HIGH" }));
    expect(dealWon.notifications[0]!.channels).toEqual(["in_app", "realtime", "email"]);
    const dealRows = await deliveriesOf(org.tokens.admin, dealWon.ids[0]!);
    expect(dealRows.map((r) => r.channel)).toEqual(["email"]);
    const other = await notify(org.tokens.admin, body(["member1"], { type: "ops.note", priority: "HIGH" }));
    expect(other.notifications[0]!.channels).toEqual(["in_app", "realtime"]);

    await putMyPreferences(org.tokens.member, { channels: { email: true }, types: { "deal.won": { email: false, realtime: false } } });
    const muted = await notify(org.tokens.admin, body(["member1"], { type: "deal.won", priority: "HIGH" }));
    expect(muted.notifications[0]!.channels).toEqual(["in_app"]);
    const unmuted = await notify(org.tokens.admin, body(["member1"], { type: "ops.note", priority: "HIGH" }));
    expect(unmuted.notifications[0]!.channels).toEqual(["in_app", "realtime", "email"]);
  });

  it("with realtime turned off, the email is still queued and the badge still updates; no notification:new is sent", async () => {
    const org = await setupOrg();
    await putUser(org, "member1", { email: "member1@example.com" });
    await putMyPreferences(org.tokens.member, { channels: { realtime: false } });
    const { socket, badge } = await device(org.tokens.member);
    const queued: string[] = [];
    const spy = vi.spyOn(env.DELIVERY_QUEUE, "sendBatch").mockImplementation(async (messages) => {
      for (const m of messages) queued.push((m.body as { deliveryId: string }).deliveryId);
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } } as unknown as QueueSendBatchResponse;
    });
    try {
      const from = socket.frames.length;
      const created = await notify(org.tokens.admin, body(["member1"], { priority: "HIGH" }));
      expect(created.notifications[0]!.channels).toEqual(["in_app", "email"]);
      const rows = await deliveriesOf(org.tokens.admin, created.ids[0]!);
      expect(rows.map((r) => [r.channel, r.status])).toEqual([["email", "queued"]]);
      expect(queued).toEqual([rows[0]!.id]);
      await waitAfter(socket, from, countIs(badge.data.count + 1));
      expect(socket.frames.slice(from).filter((f) => f.type === "notification:new")).toEqual([]);
    } finally {
      spy.mockRestore();
      socket.close();
    }
  });

  it("org defaults apply where the user said nothing; the user's own setting wins", async () => {
    const org = await setupOrg();
    await putUser(org, "member1", { email: "member1@example.com" });
    await putUser(org, "agent2", { email: "agent2@example.com" });
    const put = await call("PUT", "/api/v1/org/preferences", { token: org.tokens.admin, body: { channels: { email: false } } });
    expect(put.status, put.text).toBe(200);
    await putMyPreferences(org.tokens.agent2, { channels: { email: true } });
    const created = await notify(org.tokens.admin, body(["member1", "agent2"], { priority: "HIGH" }));
    const byUser = Object.fromEntries(created.notifications.map((n) => [n.userId, n]));
    expect(byUser.member1!.channels).toEqual(["in_app", "realtime"]);
    expect(byUser.agent2!.channels).toEqual(["in_app", "realtime", "email"]);
    expect(await deliveriesOf(org.tokens.admin, byUser.member1!.id)).toEqual([]);
    expect((await deliveriesOf(org.tokens.admin, byUser.agent2!.id)).map((r) => r.channel)).toEqual(["email"]);
  });

  it("quiet hours defer HIGH email to the end of the window; CRITICAL goes at once", async () => {
    const org = await setupOrg();
    await putUser(org, "member1", { email: "member1@example.com", phone: "+14155550123" });
    const now = Date.now();
    // A window from an hour ago to an hour ahead, in UTC (it may wrap midnight; routing handles that).
    const quietHours = { start: hhmmUtc(now, -60), end: hhmmUtc(now, 60), timeZone: "UTC" };
    await putMyPreferences(org.tokens.member, { quietHours });

    const high = await notify(org.tokens.admin, body(["member1"], { priority: "HIGH" }));
    expect(high.notifications[0]!.channels).toEqual(["in_app", "realtime", "email"]);
    const [email] = await deliveriesOf(org.tokens.admin, high.ids[0]!);
    expect(email).toMatchObject({ channel: "email", status: "deferred", address: "member1@example.com", sentAt: null });
    const scheduled = Date.parse(email!.scheduledFor!);
    // The end of the window: now + 1 h, at minute precision.
    expect(Math.abs(scheduled - (now + 60 * 60_000))).toBeLessThan(2 * 60_000);
    expect(new Date(scheduled).getUTCSeconds()).toBe(0);

    // The in-app side is immediate.
    expect(ids((await list(org.tokens.member)).items)).toEqual([high.ids[0]]);

    const critical = await notify(org.tokens.admin, body(["member1"], { priority: "CRITICAL" }));
    const rows = await deliveriesOf(org.tokens.admin, critical.ids[0]!);
    expect(rows.map((r) => r.channel).sort()).toEqual(["email", "sms"]);
    for (const r of rows) {
      expect(MAY_HAVE_SENT).toContain(r.status);
      expect(r.scheduledFor).toBeNull();
    }

    // MEDIUM has no outbound channel to defer.
    const medium = await notify(org.tokens.admin, body(["member1"], { priority: "MEDIUM" }));
    expect(await deliveriesOf(org.tokens.admin, medium.ids[0]!)).toEqual([]);
  });

  it("quiet hours that do not cover now change nothing", async () => {
    const org = await setupOrg();
    await putUser(org, "member1", { email: "member1@example.com" });
    const now = Date.now();
    await putMyPreferences(org.tokens.member, { quietHours: { start: hhmmUtc(now, 120), end: hhmmUtc(now, 180), timeZone: "UTC" } });
    const high = await notify(org.tokens.admin, body(["member1"], { priority: "HIGH" }));
    const [email] = await deliveriesOf(org.tokens.admin, high.ids[0]!);
    expect(MAY_HAVE_SENT).toContain(email!.status);
    expect(email!.scheduledFor).toBeNull();
  });
});

// ───────────────────────────── alerts create notifications ─────────────────────────────

describe("alerts create notifications", () => {
  async function inboxOf(token: string) {
    return (await list(token, "?limit=100")).items;
  }

  it("alert.new for the assignee and the recipients", async () => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/alerts", { token: org.tokens.service, body: alertBody({ assigneeId: "agent1", recipients: ["member1"] }) });
    expect(res.status, res.text).toBe(201);
    const alertId = res.json.id as string;
    for (const [token, userId] of [[org.tokens.agent, "agent1"], [org.tokens.member, "member1"]] as const) {
      const items = await inboxOf(token);
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        userId,
        type: "alert.new",
        priority: "HIGH",
        title: "New HIGH alert: Jane Doe is likely to sell",
        actionUrl: `/alerts/${alertId}`,
        actionText: "Open alert",
        data: { alertId },
        readAt: null,
      });
    }
    // Nobody else.
    expect(await inboxOf(org.tokens.admin)).toEqual([]);
    expect(await inboxOf(org.tokens.agent2)).toEqual([]);
    expect(await notificationRows(org.org)).toBe(2);
  });

  it("alert.new for the org's admins when the alert has neither assignee nor recipients", async () => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/alerts", { token: org.tokens.service, body: alertBody() });
    expect(res.status, res.text).toBe(201);
    const items = await inboxOf(org.tokens.admin);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ userId: "admin1", type: "alert.new", actionUrl: `/alerts/${res.json.id}`, data: { alertId: res.json.id } });
    expect(await notificationRows(org.org)).toBe(1);
    // admin1 has an email (from its token): HIGH sends it one.
    const rows = await deliveriesOf(org.tokens.admin, items[0].id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ channel: "email", address: "admin1@example.com" });
    expect(MAY_HAVE_SENT).toContain(rows[0]!.status);
  });

  it("alert.assigned for the new assignee", async () => {
    const org = await setupOrg();
    const created = await call("POST", "/api/v1/alerts", { token: org.tokens.service, body: alertBody({ recipients: ["member1"] }) });
    expect(created.status, created.text).toBe(201);
    const alertId = created.json.id as string;
    const assign = await call("POST", `/api/v1/alerts/${alertId}/assign`, { token: org.tokens.admin, body: { agentId: "agent2" } });
    expect(assign.status, assign.text).toBe(200);
    const items = await inboxOf(org.tokens.agent2);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      userId: "agent2",
      type: "alert.assigned",
      priority: "HIGH",
      title: "Assigned to you: Jane Doe is likely to sell",
      actionUrl: `/alerts/${alertId}`,
      data: { alertId },
    });
    expect(items[0].message).toContain("Ada Admin");
    // member1 got alert.new only.
    expect((await inboxOf(org.tokens.member)).map((n: any) => n.type)).toEqual(["alert.new"]);
  });

  it("retrying an alert create with the same Idempotency-Key notifies nobody twice", async () => {
    const org = await setupOrg();
    const headers = { "Idempotency-Key": "alert-retry-1" };
    const payload = alertBody({ assigneeId: "agent1", recipients: ["member1"] });
    const first = await call("POST", "/api/v1/alerts", { token: org.tokens.service, body: payload, headers });
    expect(first.status, first.text).toBe(201);
    const rows = await notificationRows(org.org);
    const deliveries = await deliveryRowCount(org.org);
    expect(rows).toBe(2);
    const retry = await call("POST", "/api/v1/alerts", { token: org.tokens.service, body: payload, headers });
    expect(retry.status, retry.text).toBe(201);
    expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
    expect(retry.json.id).toBe(first.json.id);
    expect(await notificationRows(org.org)).toBe(rows);
    expect(await deliveryRowCount(org.org)).toBe(deliveries);
    expect(await inboxOf(org.tokens.member)).toHaveLength(1);
    expect(await inboxOf(org.tokens.agent)).toHaveLength(1);
  });
});

// ───────────────────────────── deliveries ─────────────────────────────

describe("GET /api/v1/notifications/:id/deliveries", () => {
  it("is open to admins, services and the recipient; another user or org gets 404", async () => {
    const org = await setupOrg();
    const created = await notify(org.tokens.admin, body(["member1"], { priority: "HIGH" }));
    const id = created.ids[0]!;
    for (const token of [org.tokens.admin, org.tokens.service, org.tokens.member]) {
      const rows = await deliveriesOf(token, id);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ channel: "email", status: "skipped", attempts: 0 });
      expect(Object.keys(rows[0]!).sort()).toEqual(
        ["id", "channel", "address", "status", "attempts", "provider", "providerMessageId", "lastError", "scheduledFor", "createdAt", "updatedAt", "sentAt"].sort(),
      );
    }
    const member2 = await makeToken({ org: org.org, sub: "member2", role: "member" });
    const otherAdmin = await makeToken({ org: uniqueOrg(), sub: "admin1", role: "admin" });
    for (const token of [org.tokens.agent, org.tokens.agent2, member2, otherAdmin]) {
      expectError(await call("GET", `/api/v1/notifications/${id}/deliveries`, { token }), 404, "NOTIFICATION_NOT_FOUND");
    }
  });

  it("ends for the recipient when they delete the notification, but admins keep the audit trail", async () => {
    const org = await setupOrg();
    const id = (await notify(org.tokens.admin, body(["member1"], { priority: "HIGH" }))).ids[0]!;
    expect((await call("DELETE", `/api/v1/notifications/${id}`, { token: org.tokens.member })).status).toBe(204);
    expectError(await call("GET", `/api/v1/notifications/${id}/deliveries`, { token: org.tokens.member }), 404, "NOTIFICATION_NOT_FOUND");
    expect(await deliveriesOf(org.tokens.admin, id)).toHaveLength(1);
  });
});

describe("role checks come first", () => {
  it("refuses an agent with 403 even when its template is unknown", async () => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/notifications", {
      token: org.tokens.agent,
      body: { userIds: ["member1"], template: "no.such.template", variables: {} },
    });
    expectError(res, 403, "FORBIDDEN");
  });
});
