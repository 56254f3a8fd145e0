// The dashboard in headless Chromium against the real Worker (issue 12):
// sign-in with a dev token, the live feed, filters, actions across two
// browser contexts, the bell, live statistics, a server restart with nothing
// missing, an axe-core scan, and screenshots at desktop and phone widths.
// Elements are found by role and accessible name (docs/DASHBOARD.md), as a
// screen-reader user would find them. Timing targets are measured and written
// to test-results/dashboard-metrics.json, not asserted: this machine is noisy.
import fs from "node:fs";
import path from "node:path";
import type { BrowserContextOptions, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { api, type Api } from "./harness/api";
import { axeScan, blocking, describeViolations } from "./harness/axe";
import {
  bell,
  card,
  cardIds,
  cards,
  chooseOption,
  connection,
  connectionStatus,
  feed,
  firstNumber,
  dashboardSuite,
  loadTimings,
  record,
  RESULTS_DIR,
  screenshot,
  signInWithDevToken,
  tabSession,
  unreadCount,
  writeMetrics,
  type DashboardContext,
  type DevUser,
  type LoadTimings,
} from "./harness/dashboard";
import { mintToken, uid } from "./harness/tokens";

interface Alert {
  id: string;
  title: string;
  priority: string;
  status: string;
  assigneeId: string | null;
  conversionValue: number | null;
  conversionType: string | null;
}

const suite = dashboardSuite("dashboard");

/** A new organization and a service token of it (creates alerts, fills the directory, sends notifications). */
async function newOrg() {
  const org = uid("org");
  const service = api(suite.server.url, await mintToken({ sub: uid("svc"), org, role: "service" }));
  return { org, service };
}

/** Opens a context, signs `user` in with the dev-token form and waits until the indicator is Live. */
async function signedIn(user: DevUser, options: BrowserContextOptions = {}): Promise<{ ctx: DashboardContext; page: Page }> {
  const ctx = await suite.open(options);
  const page = await ctx.newPage();
  await signInWithDevToken(page, suite.server.url, user);
  await poll(() => connectionStatus(page), 30_000).toBe("open");
  return { ctx, page };
}

let titleCounter = 0;
/** Creates an alert over REST; a unique title unless given. */
function createAlert(
  producer: Api,
  fields: Partial<{ priority: string; title: string; alertType: string; confidence: number; assigneeId: string; recipients: string[]; subject: object }> = {},
) {
  return producer.call<Alert>("POST", "/api/v1/alerts", {
    alertType: "LIKELY_TO_SELL",
    priority: "MEDIUM",
    confidence: 0.8,
    ...fields,
    title: fields.title ?? `E2E alert ${++titleCounter} ${Math.random().toString(36).slice(2, 7)}`,
  });
}

/** Waits until the feed is loaded (aria-busy not true) and shows the cards of `ids`. */
async function waitForCards(page: Page, ids: string[], timeout = 15_000) {
  await poll(() => feed(page).getAttribute("aria-busy"), timeout).not.toBe("true");
  for (const id of ids) await card(page, id).waitFor({ timeout });
}

/** A figure's number: its data-value when it has one, else the first number in its text; null while it is not shown. */
async function statValue(page: Page, stat: string): Promise<number | null> {
  const figure = page.locator(`[data-stat="${stat}"]`).first();
  if ((await figure.count()) === 0) return null;
  const value = await figure.getAttribute("data-value");
  return value !== null && value !== "" ? Number(value) : firstNumber(await figure.textContent());
}

/** expect.poll with a timeout fit for a loaded machine (vitest's default is one second). */
const poll = <T>(check: () => T | Promise<T>, timeout = 10_000) => expect.poll(check, { timeout, interval: 50 });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe("dashboard", () => {
  it("signs in with the dev token form, goes Live, shows the admin's navigation and signs out", async () => {
    const { org } = await newOrg();
    const { page } = await signedIn({ userId: uid("admin"), org, role: "admin" });
    await poll(() => connection(page).textContent()).toMatch(/Live/);
    const banner = page.getByRole("banner");
    await banner.getByRole("heading", { name: "Herald" }).waitFor();
    const nav = page.getByRole("navigation", { name: "Main" });
    for (const name of ["Alerts", "Statistics", "Admin"]) await nav.getByRole("link", { name, exact: true }).waitFor();
    expect(await nav.getByRole("link", { name: "Alerts", exact: true }).getAttribute("aria-current")).toBe("page");
    await page.getByRole("main").getByRole("heading", { name: "Alerts" }).waitFor();

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to Herald" }).waitFor();
    expect(await connection(page).count()).toBe(0);

    // A member gets no Admin link.
    const member = await signedIn({ userId: uid("member"), org, role: "member" });
    await member.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Alerts", exact: true }).waitFor();
    expect(await member.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin", exact: true }).count()).toBe(0);
  });

  it("alerts created over REST appear in the feed, newest first, within a second; first render measured", async () => {
    const { org, service } = await newOrg();
    const admin: DevUser = { userId: uid("admin"), org, role: "admin" };
    const { page } = await signedIn(admin);
    await poll(() => feed(page).getAttribute("aria-busy"), 15_000).not.toBe("true");

    const created: Alert[] = [];
    const fromResponse: number[] = [];
    const fromRequest: number[] = [];
    const priorities = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "HIGH"];
    for (const priority of priorities) {
      const sent = Date.now();
      const alert = await createAlert(service, { priority });
      const answered = Date.now();
      created.push(alert);
      await card(page, alert.id).waitFor({ timeout: 5_000 });
      const shown = (await record(page)).cards[alert.id]!.wall;
      fromRequest.push(shown - sent);
      // The socket can beat the REST response: then the alert was on screen before the producer even knew its id.
      fromResponse.push(Math.max(0, shown - answered));
    }
    console.log(`dashboard: alert visible after REST response: ${fromResponse.join(", ")} ms; after request start: ${fromRequest.join(", ")} ms`);
    for (const ms of fromRequest) expect(ms).toBeLessThan(5_000);

    // Newest first; each card an article named by its title, its priority as text, not colour alone.
    expect((await cardIds(page)).slice(0, created.length)).toEqual(created.map((a) => a.id).reverse());
    for (const alert of created) {
      const article = feed(page).getByRole("article", { name: alert.title });
      await article.waitFor();
      expect(await article.getAttribute("data-priority")).toBe(alert.priority);
      expect(await article.getAttribute("data-status")).toBe(alert.status);
      expect((await article.textContent())?.toUpperCase()).toContain(alert.priority);
    }
    // Screen readers hear each arrival from the polite live region.
    const last = created[created.length - 1]!;
    await poll(() => page.locator('[aria-live="polite"]').allTextContents().then((t) => t.join("\n"))).toContain(`New ${last.priority} alert: ${last.title}`);

    // First render of the feed: navigation start → first card in the DOM, on a reload (warm cache) and in
    // fresh contexts with the same tab session (cold cache), three times each.
    const session = await tabSession(page);
    const warm: LoadTimings[] = [];
    const cold: LoadTimings[] = [];
    for (let i = 0; i < 3; i++) {
      await page.reload();
      warm.push(await loadTimings(page));
      const fresh = await suite.open({ session });
      const freshPage = await fresh.newPage();
      await freshPage.goto(`${suite.server.url}/`);
      cold.push(await loadTimings(freshPage));
      await fresh.context.close();
    }
    const firstCard = (xs: LoadTimings[]) => xs.map((t) => t.firstCard);
    console.log(
      `dashboard: first render of the feed (navigation start → first card): cold ${firstCard(cold).join(", ")} ms, warm ${firstCard(warm).join(", ")} ms\n` +
        `  first cold load: ${JSON.stringify(cold[0])}\n  first warm load: ${JSON.stringify(warm[0])}`,
    );
    // The socket usually beats the REST response, so "after the response" is mostly 0; "after the request started" bounds the latency.
    writeMetrics({
      alertVisibleAfterRequestStartMs: { values: fromRequest, median: median(fromRequest), max: Math.max(...fromRequest) },
      alertVisibleAfterResponseMs: { values: fromResponse, median: median(fromResponse), max: Math.max(...fromResponse) },
      feedFirstRenderMs: { cold: { median: median(firstCard(cold)), runs: cold }, warm: { median: median(firstCard(warm)), runs: warm } },
    });
  });

  it("scrolls through pages of the REST cursor; alerts arriving while scrolled away show as 'N new alerts'", async () => {
    const { org, service } = await newOrg();
    const alerts: Alert[] = [];
    // One more page than the API's default page of 20.
    for (let i = 0; i < 25; i++) alerts.push(await createAlert(service, { priority: ["LOW", "MEDIUM", "HIGH"][i % 3] }));
    const { page } = await signedIn({ userId: uid("admin"), org, role: "admin" });
    await waitForCards(page, alerts.slice(-20).map((a) => a.id));
    expect(await cards(page).count()).toBe(20);

    await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
    await poll(() => cards(page).count()).toBe(25);
    const ids = await cardIds(page);
    expect(ids).toEqual(alerts.map((a) => a.id).reverse());

    await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
    const fresh = await createAlert(service, { priority: "CRITICAL" });
    const newAlerts = page.getByRole("button", { name: "1 new alert", exact: true });
    await newAlerts.waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => scrollY)).toBeGreaterThan(200);
    await newAlerts.click();
    await poll(() => page.evaluate(() => scrollY)).toBe(0);
    await newAlerts.waitFor({ state: "hidden" });
    expect((await cardIds(page))[0]).toBe(fresh.id);
  });

  it("filters by priority: only critical cards, priority=CRITICAL in the URL, kept on reload and for live alerts", async () => {
    const { org, service } = await newOrg();
    const all: Alert[] = [];
    for (const priority of ["CRITICAL", "LOW", "HIGH", "CRITICAL", "LOW"]) all.push(await createAlert(service, { priority }));
    const { page } = await signedIn({ userId: uid("admin"), org, role: "admin" });
    await waitForCards(page, all.map((a) => a.id));

    const filters = page.getByRole("search", { name: "Filters" });
    const critical = filters.getByRole("group", { name: "Priority" }).getByRole("checkbox", { name: "Critical" });
    await critical.check();
    const criticalIds = all.filter((a) => a.priority === "CRITICAL").map((a) => a.id);
    const shownPriorities = () => cards(page).evaluateAll((els) => els.map((el) => el.getAttribute("data-priority")));
    await poll(() => cardIds(page)).toEqual([...criticalIds].reverse());
    expect(await shownPriorities()).toEqual(["CRITICAL", "CRITICAL"]);
    expect(new URL(page.url()).searchParams.get("priority")).toBe("CRITICAL");

    await page.reload();
    await waitForCards(page, criticalIds);
    expect(await cardIds(page)).toEqual([...criticalIds].reverse());
    expect(await critical.isChecked()).toBe(true);
    expect(new URL(page.url()).searchParams.get("priority")).toBe("CRITICAL");

    // Live alerts respect the filter: the LOW one never shows, the CRITICAL one created after it does.
    const low = await createAlert(service, { priority: "LOW" });
    const crit = await createAlert(service, { priority: "CRITICAL" });
    await card(page, crit.id).waitFor({ timeout: 10_000 });
    expect(await card(page, low.id).count()).toBe(0);
    expect(await shownPriorities()).toEqual(["CRITICAL", "CRITICAL", "CRITICAL"]);

    await filters.getByRole("button", { name: "Clear filters" }).click();
    await waitForCards(page, [...all.map((a) => a.id), low.id, crit.id]);
    expect(new URL(page.url()).searchParams.get("priority")).toBeNull();
  });

  it("acknowledging in one browser context changes the status in a second one without reload", async () => {
    const { org, service } = await newOrg();
    const first = await signedIn({ userId: uid("admin-a"), org, role: "admin" });
    const second = await signedIn({ userId: uid("admin-b"), org, role: "admin" });
    const alert = await createAlert(service, { priority: "HIGH" });
    // 20 s: on a slow run of this shared machine a second browser context once took longer than 10 s to show the card.
    for (const { page } of [first, second]) await card(page, alert.id).waitFor({ timeout: 20_000 });
    expect(await card(second.page, alert.id).getAttribute("data-status")).toBe("PENDING");

    await card(first.page, alert.id).getByRole("button", { name: "Acknowledge", exact: true }).click();
    for (const { page } of [first, second]) {
      await poll(() => card(page, alert.id).getAttribute("data-status")).toBe("ACKNOWLEDGED");
      // Disabled either natively or with aria-disabled (which keeps the pressed button focusable).
      const acknowledge = card(page, alert.id).getByRole("button", { name: "Acknowledge", exact: true });
      await poll(() => acknowledge.evaluate((el) => (el as HTMLButtonElement).disabled || el.getAttribute("aria-disabled") === "true")).toBe(true);
    }
    expect((await service.call<Alert>("GET", `/api/v1/alerts/${alert.id}`)).status).toBe("ACKNOWLEDGED");
  });

  it("bulk acknowledges the selected alerts with per-item results: a converted one fails with the API's message, the rest succeed", async () => {
    const { org, service } = await newOrg();
    const alerts: Alert[] = [];
    for (const priority of ["HIGH", "MEDIUM", "LOW", "LOW"]) alerts.push(await createAlert(service, { priority }));
    const [a, b, done, untouched] = alerts as [Alert, Alert, Alert, Alert];
    await service.call("POST", `/api/v1/alerts/${done.id}/convert`, { conversionValue: 10, conversionType: "listing" });
    const { page } = await signedIn({ userId: uid("admin"), org, role: "admin" });
    await waitForCards(page, alerts.map((x) => x.id));

    const toolbar = page.getByRole("toolbar", { name: "Bulk actions" });
    expect(await toolbar.count()).toBe(0);
    for (const alert of [a, b, done]) await card(page, alert.id).getByRole("checkbox", { name: `Select ${alert.title}` }).check();
    await toolbar.waitFor();
    await toolbar.getByRole("button", { name: "Acknowledge selected" }).click();
    for (const alert of [a, b]) await poll(() => card(page, alert.id).getAttribute("data-status")).toBe("ACKNOWLEDGED");
    const results = page.getByRole("status", { name: "Bulk results" });
    await poll(() => results.textContent()).toMatch(/2 acknowledged, 1 failed/);
    expect(await results.textContent()).toContain(done.title);
    expect(await card(page, done.id).getAttribute("data-status")).toBe("CONVERTED");
    expect(await card(page, untouched.id).getAttribute("data-status")).toBe("PENDING");
    const expected: Record<string, string> = { [a.id]: "ACKNOWLEDGED", [b.id]: "ACKNOWLEDGED", [done.id]: "CONVERTED", [untouched.id]: "PENDING" };
    for (const alert of alerts) expect((await service.call<Alert>("GET", `/api/v1/alerts/${alert.id}`)).status).toBe(expected[alert.id]);
  });

  it("an agent sees only the alerts meant for them and takes one; no Admin link", async () => {
    const { org, service } = await newOrg();
    const agent: DevUser = { userId: uid("agent"), org, role: "agent" };
    const mine = await createAlert(service, { priority: "HIGH", recipients: [agent.userId] });
    const other = await createAlert(service, { priority: "HIGH" });
    const { page } = await signedIn(agent);
    await waitForCards(page, [mine.id]);
    expect(await cardIds(page)).toEqual([mine.id]);
    expect(await card(page, other.id).count()).toBe(0);
    expect(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin", exact: true }).count()).toBe(0);

    const article = card(page, mine.id);
    expect(await article.getByRole("button", { name: "Assign", exact: true }).count()).toBe(0);
    await article.getByRole("button", { name: "Take", exact: true }).click();
    await poll(async () => (await service.call<Alert>("GET", `/api/v1/alerts/${mine.id}`)).assigneeId).toBe(agent.userId);
    await poll(() => article.textContent()).toContain(`${agent.userId} (you)`);
    // A live alert assigned to them arrives too.
    const assigned = await createAlert(service, { priority: "CRITICAL", assigneeId: agent.userId });
    await card(page, assigned.id).waitFor({ timeout: 10_000 });
  });

  it("assigns to an agent from the directory and converts through the dialogs; the detail view shows the history with notes", async () => {
    const { org, service } = await newOrg();
    const agentId = uid("agent");
    const agentName = `Avery Agent ${agentId.slice(-6)}`;
    await service.call("PUT", `/api/v1/users/${agentId}`, { name: agentName, email: `${agentId}@example.com`, role: "agent" });
    const alert = await createAlert(service, { priority: "HIGH", title: "Jane Doe is likely to sell" });
    const note = "Called her, she wants a valuation";
    await service.call("PATCH", `/api/v1/alerts/${alert.id}/status`, { status: "ACKNOWLEDGED", note });
    const { page } = await signedIn({ userId: uid("admin"), org, role: "admin" });
    await waitForCards(page, [alert.id]);
    const article = card(page, alert.id);
    expect(await article.getAttribute("data-status")).toBe("ACKNOWLEDGED");

    await article.getByRole("button", { name: "Assign", exact: true }).click();
    const assign = page.getByRole("dialog", { name: "Assign alert" });
    await assign.waitFor();
    await chooseOption(assign.getByRole("combobox", { name: "Agent" }), new RegExp(agentName));
    await assign.getByRole("button", { name: "Assign", exact: true }).click();
    await assign.waitFor({ state: "hidden" });
    await poll(async () => (await service.call<Alert>("GET", `/api/v1/alerts/${alert.id}`)).assigneeId).toBe(agentId);

    await article.getByRole("button", { name: "Convert", exact: true }).click();
    const convert = page.getByRole("dialog", { name: "Convert alert" });
    await convert.waitFor();
    await convert.getByRole("spinbutton", { name: "Value" }).fill("1250");
    await convert.getByRole("textbox", { name: "Conversion type" }).fill("listing");
    await convert.getByRole("button", { name: "Convert", exact: true }).click();
    await convert.waitFor({ state: "hidden" });
    await poll(() => article.getAttribute("data-status")).toBe("CONVERTED");
    const converted = await service.call<Alert>("GET", `/api/v1/alerts/${alert.id}`);
    expect({ status: converted.status, value: converted.conversionValue, type: converted.conversionType }).toEqual({ status: "CONVERTED", value: 1250, type: "listing" });

    await article.getByRole("button", { name: "Details", exact: true }).click();
    const details = page.getByRole("dialog", { name: "Alert details" });
    await details.waitFor();
    expect(new URL(page.url()).searchParams.get("alert")).toBe(alert.id);
    await details.getByRole("heading", { name: "Deliveries" }).waitFor();
    const historyHeading = details.getByRole("heading", { name: "History" });
    await historyHeading.waitFor();
    // The first list after the heading holds the entries.
    const history = historyHeading.locator("xpath=following::*[self::ol or self::ul or @role='list'][1]");
    // created, acknowledged (with its note), assigned, converted
    await poll(() => history.getByRole("listitem").count()).toBeGreaterThanOrEqual(4);
    const text = (await history.textContent()) ?? "";
    expect(text).toContain(note);
    expect(text).toMatch(/assign/i);
    expect(text).toMatch(/conver/i);
    const all = (await details.textContent()) ?? "";
    expect(all).toContain("Jane Doe is likely to sell");
    expect(all).toMatch(/listing/);
    expect(all).toMatch(/1[,.\u202f\u00a0]?250/);

    await details.getByRole("button", { name: "Close" }).click();
    await details.waitFor({ state: "hidden" });
    // The dialog hides on its close event; the URL follows when the app handles it.
    await poll(() => new URL(page.url()).searchParams.get("alert")).toBeNull();
  });

  it("the bell count rises on a notification in both contexts and falls in one when the other marks read", async () => {
    const { org, service } = await newOrg();
    const user: DevUser = { userId: uid("agent"), org, role: "agent" };
    const first = await signedIn(user);
    const second = await signedIn(user);
    for (const { page } of [first, second]) await poll(() => unreadCount(page)).toBe(0);

    for (const title of ["Call Jane back", "Send the valuation"]) {
      await service.call("POST", "/api/v1/notifications", { userIds: [user.userId], type: "task", title, channels: ["in_app", "realtime"] });
    }
    for (const { page } of [first, second]) {
      await poll(() => unreadCount(page)).toBe(2);
      await page.getByRole("button", { name: "Notifications, 2 unread" }).waitFor();
    }

    await bell(first.page).click();
    expect(await bell(first.page).getAttribute("aria-expanded")).toBe("true");
    const panel = first.page.getByRole("dialog", { name: "Notifications" }).or(first.page.getByRole("region", { name: "Notifications" }));
    await panel.waitFor();
    const unreadItems = panel.locator('[data-unread="true"]');
    await poll(() => unreadItems.count()).toBe(2);
    await unreadItems.first().getByRole("button", { name: "Mark read" }).click();
    for (const { page } of [second, first]) await poll(() => unreadCount(page)).toBe(1);
    await poll(() => unreadItems.count()).toBe(1);

    await panel.getByRole("button", { name: "Mark all read" }).click();
    for (const { page } of [second, first]) await poll(() => unreadCount(page)).toBe(0);
    const counts = await api(suite.server.url, await mintToken({ sub: user.userId, org, role: "agent" })).call<{ unread: number; unseen: number }>(
      "GET",
      "/api/v1/notifications/counts",
    );
    expect(counts).toMatchObject({ unread: 0, unseen: 0 });
  });

  it("the statistics page updates live when an alert is created and one converted", async () => {
    const { org, service } = await newOrg();
    const first = await createAlert(service, { priority: "HIGH" });
    await createAlert(service, { priority: "LOW" });
    const { page } = await signedIn({ userId: uid("admin"), org, role: "admin" });
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Statistics", exact: true }).click();
    await page.getByRole("main").getByRole("heading", { name: "Statistics" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/stats");
    expect(await nav.getByRole("link", { name: "Statistics", exact: true }).getAttribute("aria-current")).toBe("page");
    const stat = (name: string) => statValue(page, name);
    await poll(() => stat("total"), 10_000).toBe(2);
    for (const name of ["By priority", "By status", "By type"]) await page.getByRole("table", { name }).waitFor();
    await page.getByRole("figure", { name: "Alert volume" }).getByRole("img").first().waitFor();

    await createAlert(service, { priority: "CRITICAL" });
    await poll(() => stat("total"), 10_000).toBe(3);
    await service.call("POST", `/api/v1/alerts/${first.id}/convert`, { conversionValue: 900, conversionType: "listing" });
    await poll(() => stat("converted"), 10_000).toBe(1);
    const rest = await service.call<{ total: number; converted: number }>("GET", "/api/v1/alerts/stats");
    expect({ total: rest.total, converted: rest.converted }).toEqual({ total: 3, converted: 1 });
  });

  it("no serious or critical axe-core violation on the feed, an open dialog, the open bell, statistics and admin; the dialog works by keyboard with visible focus", async () => {
    const { org, service } = await newOrg();
    const admin: DevUser = { userId: uid("admin"), org, role: "admin" };
    const agentId = uid("agent");
    await service.call("PUT", `/api/v1/users/${agentId}`, { name: "Avery Agent", email: `${agentId}@example.com`, role: "agent" });
    const alerts: Alert[] = [];
    for (const priority of ["CRITICAL", "HIGH", "MEDIUM", "LOW"]) alerts.push(await createAlert(service, { priority }));
    await service.call("PATCH", `/api/v1/alerts/${alerts[1]!.id}/status`, { status: "ACKNOWLEDGED" });
    await service.call("POST", "/api/v1/notifications", { userIds: [admin.userId], type: "task", title: "Review the critical alert", channels: ["in_app", "realtime"] });
    const { page } = await signedIn(admin);
    await waitForCards(page, alerts.map((a) => a.id));

    const failures: string[] = [];
    const scan = async (where: string) => {
      const violations = await axeScan(page);
      console.log(describeViolations(`axe ${where}`, violations));
      if (blocking(violations).length > 0) failures.push(describeViolations(where, blocking(violations)));
    };
    await scan("feed");

    // By keyboard: Enter opens the dialog with focus inside it, Escape closes it and focus returns, visibly, to the button.
    const assignButton = card(page, alerts[0]!.id).getByRole("button", { name: "Assign", exact: true });
    await assignButton.focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Assign alert" });
    await dialog.waitFor();
    await poll(() => dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
    await scan("assign dialog");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await poll(() => assignButton.evaluate((el) => el === document.activeElement)).toBe(true);
    const ring = await assignButton.evaluate((el) => {
      const style = getComputedStyle(el);
      return { focusVisible: el.matches(":focus-visible"), outline: `${style.outlineStyle} ${style.outlineWidth}`, shadow: style.boxShadow };
    });
    expect(ring.focusVisible, JSON.stringify(ring)).toBe(true);
    expect(!/^none\b|\b0px$/.test(ring.outline) || ring.shadow !== "none", `no visible focus: ${JSON.stringify(ring)}`).toBe(true);

    await poll(() => unreadCount(page)).toBeGreaterThan(0);
    await bell(page).click();
    await page.getByRole("dialog", { name: "Notifications" }).or(page.getByRole("region", { name: "Notifications" })).waitFor();
    await scan("open bell");
    await page.keyboard.press("Escape");

    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Statistics", exact: true }).click();
    await poll(() => statValue(page, "total"), 10_000).toBe(4);
    await scan("statistics");

    await nav.getByRole("link", { name: "Admin", exact: true }).click();
    await page.getByRole("main").getByRole("heading", { name: "Admin" }).waitFor();
    // The admin sees themself online.
    const me = page.getByRole("list", { name: "Who is online" }).locator(`[data-user-id="${admin.userId}"]`);
    await poll(() => me.getAttribute("data-online"), 10_000).toBe("true");
    await poll(() => statValue(page, "connections"), 10_000).toBeGreaterThanOrEqual(1);
    await scan("admin");

    expect(failures, failures.join("\n")).toEqual([]);
  });

  it("screenshots at 1280×800 and 375×812; no horizontal scroll on a phone", async () => {
    const { org, service } = await newOrg();
    // Plain names for the pictures: the organization is new, so they are this test's own.
    const agentId = "avery";
    await service.call("PUT", `/api/v1/users/${agentId}`, { name: "Avery Agent", email: `${agentId}@example.com`, role: "agent" });
    const sample = [
      { priority: "LOW", title: "Sam Lee opened the pricing email twice", alertType: "ENGAGEMENT", confidence: 0.58, subject: { name: "Sam Lee" } },
      { priority: "MEDIUM", title: "Priya Patel browsed 12 listings this week", alertType: "ACTIVE_BUYER", confidence: 0.72, subject: { name: "Priya Patel" } },
      { priority: "HIGH", title: "Marco Rossi asked for a mortgage quote", alertType: "LIKELY_TO_BUY", confidence: 0.84, subject: { name: "Marco Rossi" } },
      { priority: "CRITICAL", title: "Jane Doe is likely to sell", alertType: "LIKELY_TO_SELL", confidence: 0.93, subject: { name: "Jane Doe" } },
      { priority: "HIGH", title: "Acme Realty requested a callback", alertType: "CALLBACK", confidence: 0.88, subject: { name: "Acme Realty" } },
    ];
    const alerts: Alert[] = [];
    for (const fields of sample) alerts.push(await createAlert(service, fields));
    await service.call("POST", `/api/v1/alerts/${alerts[0]!.id}/assign`, { agentId });
    await service.call("PATCH", `/api/v1/alerts/${alerts[1]!.id}/status`, { status: "ACKNOWLEDGED" });
    await service.call("POST", `/api/v1/alerts/${alerts[2]!.id}/convert`, { conversionValue: 4200, conversionType: "listing" });
    const admin: DevUser = { userId: "dana", org, role: "admin" };
    await service.call("POST", "/api/v1/notifications", { userIds: [admin.userId], type: "task", title: "Call Jane Doe back today", priority: "HIGH", channels: ["in_app", "realtime"] });

    const desktop = await signedIn(admin);
    await waitForCards(desktop.page, alerts.map((a) => a.id));
    await poll(() => unreadCount(desktop.page)).toBeGreaterThan(0);
    await screenshot(desktop.page, "dashboard-feed-1280");
    // The README's picture: the filters and the first cards.
    await screenshot(desktop.page, "dashboard", { height: 1180 });
    await desktop.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Statistics", exact: true }).click();
    await poll(() => statValue(desktop.page, "total"), 10_000).toBe(5);
    await screenshot(desktop.page, "dashboard-stats-1280");

    const phone = await signedIn(admin, { viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await waitForCards(phone.page, alerts.map((a) => a.id));
    const scrollWidth = () => phone.page.evaluate(() => document.documentElement.scrollWidth);
    expect(await scrollWidth(), "feed scrollWidth at 375 px").toBeLessThanOrEqual(376);
    await screenshot(phone.page, "dashboard-feed-375", "full");
    await phone.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Statistics", exact: true }).click();
    await poll(() => statValue(phone.page, "total"), 10_000).toBe(5);
    expect(await scrollWidth(), "statistics scrollWidth at 375 px").toBeLessThanOrEqual(376);
    await screenshot(phone.page, "dashboard-stats-375", "full");
    for (const name of ["dashboard", "dashboard-feed-1280", "dashboard-stats-1280", "dashboard-feed-375", "dashboard-stats-375"]) {
      expect(fs.statSync(path.join(RESULTS_DIR, `${name}.png`)).size).toBeGreaterThan(5_000);
    }
  });

  it("the server stops and restarts on the same state: Offline, then Live, every alert in the feed exactly once", async () => {
    const { org, service } = await newOrg();
    const { page } = await signedIn({ userId: uid("admin"), org, role: "admin" });
    const before = await createAlert(service, { priority: "HIGH" });
    await card(page, before.id).waitFor({ timeout: 10_000 });

    await suite.server.stop();
    await poll(() => connectionStatus(page), 30_000).not.toBe("open");
    expect(["closed", "connecting"]).toContain(await connectionStatus(page));
    // The SDK keeps dialing (connecting); after having been connected that reads Offline (docs/DASHBOARD.md).
    await poll(() => connection(page).textContent()).toMatch(/Offline/);

    await suite.server.start();
    // Created at once, while the page is most likely still waiting out its backoff.
    const during = await createAlert(service, { priority: "CRITICAL" });
    await poll(() => connectionStatus(page), 90_000).toBe("open");
    expect(await connection(page).textContent()).toMatch(/Live/);
    const after = await createAlert(service, { priority: "LOW" });
    const ids = [before.id, during.id, after.id];
    await waitForCards(page, ids, 30_000);
    // Time for a late duplicate (a replay overlapping the list refresh) to show.
    await new Promise((r) => setTimeout(r, 1000));
    const shown = await cardIds(page);
    expect(shown.length, `cards: ${shown.join(", ")}`).toBe(new Set(shown).size);
    expect([...shown].sort()).toEqual([...ids].sort());
    const statuses = (await record(page)).statuses;
    console.log(`dashboard: indicator across the restart: ${statuses.join(" → ")}`);
    const live = statuses.indexOf("open");
    const down = statuses.findIndex((s, i) => i > live && s !== "open");
    expect(live).toBeGreaterThanOrEqual(0);
    expect(down).toBeGreaterThan(live);
    expect(statuses.lastIndexOf("open")).toBeGreaterThan(down);
  });
});
