// @vitest-environment happy-dom
import { act, cleanup, render, screen } from "@testing-library/react";
import { StrictMode, useState } from "react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createHerald, type Alert, type Herald, type HeraldOptions } from "../src/index";
import {
  HeraldProvider,
  useAlerts,
  useConnectionStatus,
  useEvent,
  useHerald,
  useNotifications,
  useSubscription,
  useUnreadCount,
} from "../src/react";
import { eventually, FakeHerald } from "./fake-server";

// The React bindings over a real client and real sockets to the in-process fake
// server; the DOM is happy-dom's.

let server: FakeHerald;
const clients: Herald[] = [];

beforeEach(async () => {
  server = await new FakeHerald().start();
  // The page is served by the same origin as the API (happy-dom's fetch applies CORS as a browser does).
  (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(`${server.url}/app`);
});

/** The DOM's fetch, as the SDK would find it in a page. */
const pageFetch: typeof fetch = (input, init) => globalThis.fetch(input, init);
afterEach(async () => {
  cleanup();
  for (const c of clients.splice(0)) c.close();
  await server.stop();
});

function options(overrides: Partial<HeraldOptions> = {}): HeraldOptions {
  return { url: server.url, token: "t1", WebSocket, fetch: pageFetch, backoff: { minDelayMs: 50, maxDelayMs: 200 }, ...overrides };
}

function client(overrides: Partial<HeraldOptions> = {}): Herald {
  const h = createHerald(options(overrides));
  clients.push(h);
  return h;
}

/** Waits for the DOM to show something, letting React commit the updates meanwhile. */
async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await act(() => new Promise((resolve) => setTimeout(resolve, 10)));
  }
}

const text = (testId: string) => screen.queryByTestId(testId)?.textContent ?? "";

function makeAlert(id: string, createdAt: string, patch: Partial<Alert> = {}): Alert {
  return {
    id,
    organizationId: "o1",
    alertType: "LIKELY_TO_SELL",
    priority: "HIGH",
    status: "PENDING",
    confidence: 0.9,
    title: `Alert ${id}`,
    message: null,
    subject: null,
    data: {},
    assigneeId: "u1",
    recipients: [],
    modelVersion: null,
    signalCount: null,
    createdBy: "scorer",
    createdAt,
    updatedAt: createdAt,
    acknowledgedAt: null,
    assignedAt: null,
    resolvedAt: null,
    convertedAt: null,
    conversionValue: null,
    conversionType: null,
    ...patch,
  };
}

function Status({ id }: { id: string }) {
  return <span data-testid={id}>{useConnectionStatus()}</span>;
}

function Badge({ id }: { id: string }) {
  return <span data-testid={id}>{useUnreadCount()}</span>;
}

describe("HeraldProvider", () => {
  it("gives every component the same client: two components, one connection, both see open and the badge", async () => {
    server.unread = { count: 4, unseen: 2 };
    render(
      <HeraldProvider options={options()}>
        <Status id="status-a" />
        <Status id="status-b" />
        <Badge id="badge-a" />
        <Badge id="badge-b" />
      </HeraldProvider>,
    );
    await until(() => text("status-a") === "open" && text("status-b") === "open", "both open");
    await until(() => text("badge-a") === "4" && text("badge-b") === "4", "both badges");
    expect(server.dials.filter((d) => d.stream === "user")).toHaveLength(1);
    expect(server.openCount("user")).toBe(1);
  });

  it("with options, owns its client: closes the connection on unmount (also under StrictMode's double mount)", async () => {
    const view = render(
      <StrictMode>
        <HeraldProvider options={options()}>
          <Status id="status" />
        </HeraldProvider>
      </StrictMode>,
    );
    await until(() => text("status") === "open", "open");
    await eventually(() => server.openCount("user") === 1, 5000, "one socket left after StrictMode's remount");
    view.unmount();
    await eventually(() => server.openCount("user") === 0, 5000, "socket closed on unmount");
  });

  it("with a client, leaves it open on unmount (the app owns it)", async () => {
    const h = client();
    const view = render(
      <HeraldProvider client={h}>
        <Status id="status" />
      </HeraldProvider>,
    );
    await until(() => text("status") === "open", "open");
    view.unmount();
    expect(h.status).toBe("open");
    expect(h.active).toBe(true);
  });

  it("useHerald outside a provider says so", () => {
    function Orphan() {
      useHerald();
      return null;
    }
    const original = console.error;
    console.error = () => {};
    try {
      expect(() => render(<Orphan />)).toThrow(/HeraldProvider/);
    } finally {
      console.error = original;
    }
  });
});

describe("useConnectionStatus", () => {
  it("follows drops and reconnects", async () => {
    const h = client({ backoff: { minDelayMs: 300, maxDelayMs: 300 } });
    const seen: string[] = [];
    function Recorder() {
      const status = useConnectionStatus();
      if (seen.at(-1) !== status) seen.push(status);
      return <span data-testid="status">{status}</span>;
    }
    render(
      <HeraldProvider client={h}>
        <Recorder />
      </HeraldProvider>,
    );
    await until(() => text("status") === "open", "open");
    server.dropAll();
    await until(() => text("status") === "connecting", "connecting after the drop");
    await until(() => text("status") === "open", "open again");
    expect(seen).toEqual(["connecting", "open", "connecting", "open"]);
  });
});

describe("useUnreadCount", () => {
  it("updates on every unread:count frame, and is the server's number (never counted locally)", async () => {
    const h = client();
    render(
      <HeraldProvider client={h}>
        <Badge id="badge" />
      </HeraldProvider>,
    );
    await until(() => h.status === "open", "open");
    await until(() => text("badge") === "0", "initial badge");
    server.unread = { count: 7, unseen: 7 };
    server.sendBadge();
    await until(() => text("badge") === "7", "badge 7");
    // A notification:new without a new unread:count does not move the badge: only the server counts.
    server.publish("user", "notification:new", { notification: { id: "ntf_x", readAt: null } });
    server.unread = { count: 2, unseen: 0 };
    server.sendBadge();
    await until(() => text("badge") === "2", "badge 2");
  });
});

describe("useNotifications", () => {
  const notification = (id: string, createdAt: string) => ({
    id,
    userId: "u1",
    organizationId: "o1",
    type: "alert.assigned",
    title: `Notification ${id}`,
    body: null,
    priority: "HIGH",
    alertId: null,
    data: {},
    readAt: null,
    seenAt: null,
    archivedAt: null,
    createdAt,
  });

  it("loads the list once for all components, keeps it live, and marks read on the server", async () => {
    server.notifications = [notification("n2", "2026-11-30T10:02:00.000Z"), notification("n1", "2026-11-30T10:01:00.000Z")];
    server.unread = { count: 2, unseen: 2 };
    let listRequests = 0;
    const counting = client({
      fetch: (input, init) => {
        if (String(input).includes("/api/v1/notifications?") || String(input).endsWith("/api/v1/notifications")) listRequests++;
        return pageFetch(input, init);
      },
    });
    // Live before the first load: a stream that first goes live after it reloads the list (tested in client.test.ts).
    await eventually(() => counting.status === "open", 5000, "open");
    let actions: ReturnType<typeof useNotifications> | undefined;
    function Inbox({ id }: { id: string }) {
      const inbox = useNotifications();
      actions = inbox;
      return (
        <ul data-testid={id}>
          {inbox.notifications.map((n) => (
            <li key={n.id}>{`${n.id}:${n.readAt ? "read" : "unread"}`}</li>
          ))}
        </ul>
      );
    }
    render(
      <HeraldProvider client={counting}>
        <Inbox id="inbox-a" />
        <Inbox id="inbox-b" />
        <Badge id="badge" />
      </HeraldProvider>,
    );
    await until(() => text("inbox-a") === "n2:unreadn1:unread" && text("inbox-b") === "n2:unreadn1:unread", "lists loaded");
    expect(listRequests).toBe(1);
    await until(() => counting.status === "open" && text("badge") === "2", "open with badge 2");

    // A notification arriving live joins the list at the top.
    const n3 = notification("n3", "2026-11-30T10:03:00.000Z");
    server.notifications.unshift(n3);
    server.publish("user", "notification:new", { notification: n3 });
    server.unread = { count: 3, unseen: 3 };
    server.sendBadge();
    await until(() => text("inbox-a") === "n3:unreadn2:unreadn1:unread" && text("badge") === "3", "live notification");

    // markRead goes to the server (mark:read over the socket); list and badge follow its events.
    await act(() => actions!.markRead("n1"));
    await until(() => text("inbox-b") === "n3:unreadn2:unreadn1:read" && text("badge") === "2", "n1 read");
    expect(server.received.some((r) => r.frame.type === "mark:read" && r.frame.notificationId === "n1")).toBe(true);

    await act(() => actions!.markAllRead());
    await until(() => text("inbox-a") === "n3:readn2:readn1:read" && text("badge") === "0", "all read");
  });
});

describe("useAlerts", () => {
  /** The client's REST calls to /api/v1/alerts answered here (the fake server has no alert routes); everything else goes to it. */
  function alertsApi(pages: (url: URL) => Promise<{ items: Alert[]; nextCursor: string | null }>, seen: URL[] = []): typeof fetch {
    return async (input, init) => {
      const url = new URL(String(input));
      if (url.pathname !== "/api/v1/alerts") return pageFetch(input, init);
      seen.push(url);
      return new Response(JSON.stringify(await pages(url)), { status: 200, headers: { "content-type": "application/json" } });
    };
  }

  function AlertList({ filters, org }: { filters?: Parameters<typeof useAlerts>[0]; org?: boolean }) {
    const { alerts, loading, hasMore } = useAlerts(filters, { org: org ?? false });
    return (
      <div>
        <span data-testid="loading">{String(loading)}</span>
        <span data-testid="more">{String(hasMore)}</span>
        <span data-testid="alerts">{alerts.map((a) => `${a.id}:${a.status}`).join(",")}</span>
      </div>
    );
  }

  it("shows the REST page and merges live alert events into it, with the filters' rules", async () => {
    const a1 = makeAlert("alr_1", "2026-11-30T10:01:00.000Z");
    const a2 = makeAlert("alr_2", "2026-11-30T10:02:00.000Z");
    const requests: URL[] = [];
    const h = client({ fetch: alertsApi(async () => ({ items: [a2, a1], nextCursor: null }), requests) });
    render(
      <HeraldProvider client={h}>
        <AlertList filters={{ status: ["PENDING", "ACKNOWLEDGED"], limit: 10 }} />
      </HeraldProvider>,
    );
    await until(() => text("alerts") === "alr_2:PENDING,alr_1:PENDING", "the page");
    expect(requests[0]!.searchParams.get("status")).toBe("PENDING,ACKNOWLEDGED");
    expect(requests[0]!.searchParams.get("limit")).toBe("10");
    await until(() => h.status === "open", "open");

    // A new alert goes on top; an update replaces in place; one leaving the filter (RESOLVED) leaves the list.
    const a3 = makeAlert("alr_3", "2026-11-30T10:03:00.000Z");
    server.publish("user", "alert:new", { alert: a3 });
    await until(() => text("alerts") === "alr_3:PENDING,alr_2:PENDING,alr_1:PENDING", "live alert:new on top");
    server.publish("user", "alert:updated", {
      alert: { ...a1, status: "ACKNOWLEDGED", updatedAt: "2026-11-30T10:05:00.000Z" },
      change: { actorId: "u1", fromStatus: "PENDING", toStatus: "ACKNOWLEDGED", note: null },
    });
    await until(() => text("alerts") === "alr_3:PENDING,alr_2:PENDING,alr_1:ACKNOWLEDGED", "update in place");
    server.publish("user", "alert:updated", {
      alert: { ...a2, status: "RESOLVED", updatedAt: "2026-11-30T10:06:00.000Z" },
      change: { actorId: "u1", fromStatus: "PENDING", toStatus: "RESOLVED", note: null },
    });
    await until(() => text("alerts") === "alr_3:PENDING,alr_1:ACKNOWLEDGED", "resolved alert left the list");
    // An alert outside the filters (a LOW one under a priority filter would be; here a RESOLVED one) never enters.
    server.publish("user", "alert:new", { alert: makeAlert("alr_4", "2026-11-30T10:07:00.000Z", { status: "RESOLVED" }) });
    server.publish("user", "alert:new", { alert: makeAlert("alr_5", "2026-11-30T10:08:00.000Z") });
    await until(() => text("alerts") === "alr_5:PENDING,alr_3:PENDING,alr_1:ACKNOWLEDGED", "only the matching one");
  });

  it("moves an escalated alert to its new assignee in place (alert:escalated)", async () => {
    const a1 = makeAlert("alr_1", "2026-11-30T10:01:00.000Z", { assigneeId: "agent1" });
    const h = client({ fetch: alertsApi(async () => ({ items: [a1], nextCursor: null })) });
    function Assignees() {
      const { alerts } = useAlerts();
      return <span data-testid="assignees">{alerts.map((a) => `${a.id}:${a.assigneeId}`).join(",")}</span>;
    }
    render(
      <HeraldProvider client={h}>
        <Assignees />
      </HeraldProvider>,
    );
    await until(() => text("assignees") === "alr_1:agent1", "the page");
    await until(() => h.status === "open", "open");
    server.publish("user", "alert:escalated", {
      alert: { ...a1, assigneeId: "agent2", updatedAt: "2026-11-30T10:05:00.000Z" },
      change: { actorId: "system:escalation", previousAssigneeId: "agent1", note: "SLA passed" },
    });
    await until(() => text("assignees") === "alr_1:agent2", "the escalation applied");
  });

  it("keeps an event that arrives while the page is still loading", async () => {
    const a1 = makeAlert("alr_1", "2026-11-30T10:01:00.000Z");
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const h = client({
      fetch: alertsApi(async () => {
        await held;
        // The page was read before alr_2 existed.
        return { items: [a1], nextCursor: "c1" };
      }),
    });
    await eventually(() => h.status === "open", 5000, "open");
    render(
      <HeraldProvider client={h}>
        <AlertList />
      </HeraldProvider>,
    );
    expect(text("loading")).toBe("true");
    server.publish("user", "alert:new", { alert: makeAlert("alr_2", "2026-11-30T10:02:00.000Z") });
    await eventually(() => server.logs.user.length === 1);
    await act(async () => {
      await new Promise((r) => setTimeout(r, 200));
      release();
    });
    await until(() => text("alerts") === "alr_2:PENDING,alr_1:PENDING", "page plus the early event");
    expect(text("more")).toBe("true");
  });

  it("refetches after a resync", async () => {
    let version = 1;
    const h = client({ fetch: alertsApi(async () => ({ items: [makeAlert(`alr_v${version}`, "2026-11-30T10:01:00.000Z")], nextCursor: null })) });
    render(
      <HeraldProvider client={h}>
        <AlertList />
      </HeraldProvider>,
    );
    await until(() => text("alerts") === "alr_v1:PENDING" && h.status === "open", "first page");
    // The server lost the range the client would resume from: it says resync-required on the next dial.
    version = 2;
    server.logs.user.length = 0;
    for (let i = 0; i < 3; i++) server.publish("user", "noise:event", {});
    await eventually(() => h.lastSeq.user === 3, 5000, "seq 3");
    server.logs.user.length = 0;
    server.dropAll();
    await until(() => text("alerts") === "alr_v2:PENDING", "refetched after resync");
  });

  it("an alert committed after the page loaded but before the user stream first went live shows once it does", async () => {
    const a1 = makeAlert("alr_1", "2026-11-30T10:01:00.000Z");
    const a2 = makeAlert("alr_2", "2026-11-30T10:02:00.000Z");
    let items = [a1];
    server.hangTickets = true;
    const h = client({ requestTimeoutMs: 300, fetch: alertsApi(async () => ({ items, nextCursor: null })) });
    render(
      <HeraldProvider client={h}>
        <AlertList />
      </HeraldProvider>,
    );
    await until(() => text("alerts") === "alr_1:PENDING", "the page");
    // Committed between the page and the first connect: the socket starts after it, so only a reload can bring it.
    items = [a2, a1];
    server.publish("user", "alert:new", { alert: a2 });
    server.hangTickets = false;
    await until(() => h.status === "open", "open");
    await until(() => text("alerts") === "alr_2:PENDING,alr_1:PENDING", "the alert committed in between");
  });

  it("with org, an alert committed after the page loaded but before the org stream first went live shows once it does", async () => {
    const a1 = makeAlert("alr_1", "2026-11-30T10:01:00.000Z", { assigneeId: null });
    const a2 = makeAlert("alr_2", "2026-11-30T10:02:00.000Z", { assigneeId: null });
    let items = [a1];
    const h = client({ requestTimeoutMs: 300, fetch: alertsApi(async () => ({ items, nextCursor: null })) });
    await eventually(() => h.status === "open", 5000, "open");
    // The user stream is live; the org stream (opened by the list's subscription) cannot connect yet.
    server.hangTickets = true;
    render(
      <HeraldProvider client={h}>
        <AlertList org />
      </HeraldProvider>,
    );
    await until(() => text("alerts") === "alr_1:PENDING", "the page");
    items = [a2, a1];
    server.publish("org", "alert:new", { alert: a2 }, { channel: "alerts" });
    server.hangTickets = false;
    await until(() => server.dials.some((d) => d.stream === "org"), "the org stream");
    await until(() => text("alerts") === "alr_2:PENDING,alr_1:PENDING", "the alert committed in between");
  });

  it("with org, shares one subscription to the alerts channel and drops it with the last component", async () => {
    const h = client({ fetch: alertsApi(async () => ({ items: [], nextCursor: null })) });
    function Toggle() {
      const [shown, setShown] = useState(2);
      (globalThis as any).__setShown = setShown;
      return (
        <>
          {shown >= 1 && <AlertList org />}
          {shown >= 2 && <AlertList org />}
        </>
      );
    }
    render(
      <HeraldProvider client={h}>
        <Toggle />
      </HeraldProvider>,
    );
    const subscribes = () => server.received.filter((r) => r.stream === "org" && r.frame.type === "subscribe");
    const unsubscribes = () => server.received.filter((r) => r.stream === "org" && r.frame.type === "unsubscribe");
    await until(() => subscribes().length === 1, "subscribed");
    expect(subscribes()[0]!.frame.channels).toEqual(["alerts"]);
    expect(server.dials.filter((d) => d.stream === "org")).toHaveLength(1);

    server.publish("org", "alert:new", { alert: makeAlert("alr_org", "2026-11-30T10:09:00.000Z") }, { channel: "alerts" });
    await until(() => screen.getAllByTestId("alerts").every((el) => el.textContent === "alr_org:PENDING"), "org alert in both");

    act(() => (globalThis as any).__setShown(1));
    await new Promise((r) => setTimeout(r, 200));
    expect(unsubscribes()).toHaveLength(0);
    act(() => (globalThis as any).__setShown(0));
    await until(() => unsubscribes().length === 1, "unsubscribed with the last one");
    expect(h.subscriptions).toEqual([]);
  });
});

describe("useSubscription", () => {
  it("reports the server's refusal", async () => {
    const h = client();
    function Forbidden() {
      const error = useSubscription("forbidden");
      return <span data-testid="error">{error?.code ?? ""}</span>;
    }
    render(
      <HeraldProvider client={h}>
        <Forbidden />
      </HeraldProvider>,
    );
    await until(() => text("error") === "UNAUTHORIZED", "refusal");
  });
});

describe("useEvent", () => {
  it("calls the latest handler with typed data, and unsubscribes on unmount", async () => {
    const h = client();
    const got: string[] = [];
    function Listener({ tag }: { tag: string }) {
      useEvent("alert:new", ({ alert }, meta) => got.push(`${tag}:${alert.id}@${meta.seq}`));
      return null;
    }
    function Host() {
      const [tag, setTag] = useState<string | null>("v1");
      (globalThis as any).__setTag = setTag;
      return tag ? <Listener tag={tag} /> : null;
    }
    const all: string[] = [];
    h.on("alert:new", ({ alert }) => all.push(alert.id));
    render(
      <HeraldProvider client={h}>
        <Host />
      </HeraldProvider>,
    );
    await until(() => h.status === "open", "open");
    server.publish("user", "alert:new", { alert: makeAlert("alr_1", "2026-11-30T10:01:00.000Z") });
    await until(() => got.length === 1, "first event");
    // A new handler (a re-render with other props) is used without resubscribing.
    act(() => (globalThis as any).__setTag("v2"));
    server.publish("user", "alert:new", { alert: makeAlert("alr_2", "2026-11-30T10:02:00.000Z") });
    await until(() => got.length === 2, "second event");
    expect(got).toEqual(["v1:alr_1@1", "v2:alr_2@2"]);

    act(() => (globalThis as any).__setTag(null));
    server.publish("user", "alert:new", { alert: makeAlert("alr_3", "2026-11-30T10:03:00.000Z") });
    await eventually(() => all.length === 3, 5000, "the client got the third event");
    expect(got).toHaveLength(2);
  });
});
