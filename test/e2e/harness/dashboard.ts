// Page helpers for the dashboard's end-to-end tests: they find elements by
// role and accessible name (docs/DASHBOARD.md lists them), as a screen-reader
// user would, plus the data-* attributes that carry machine-readable state.
import fs from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, BrowserContextOptions, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { launchChromium } from "./browser";
import { ROOT, startServer, type Server } from "./server";
import type { Role } from "./tokens";

/** Where screenshots and measured figures go (git-ignored). */
export const RESULTS_DIR = path.join(ROOT, "test-results");

/** What the init script records in every page: when each alert card and each connection status first showed. */
export interface PageRecord {
  /** data-alert-id → when its article entered the DOM (wall clock, ms since the epoch, and performance.now()). */
  cards: Record<string, { wall: number; perf: number }>;
  /** Every data-status the connection indicator took, in order (repeats collapsed). */
  statuses: string[];
}

declare global {
  interface Window {
    heraldE2E: PageRecord;
  }
}

// Runs before the dashboard's own scripts in every page of a context. A
// MutationObserver sees an article the moment it is inserted, which a poll
// from the test could only see up to one poll interval late.
const RECORDER = `(() => {
  const record = { cards: {}, statuses: [] };
  window.heraldE2E = record;
  const scan = () => {
    for (const el of document.querySelectorAll("article[data-alert-id]")) {
      const id = el.getAttribute("data-alert-id");
      if (id && !(id in record.cards)) record.cards[id] = { wall: Date.now(), perf: performance.now() };
    }
    for (const el of document.querySelectorAll('[role="status"][data-status]')) {
      const s = el.getAttribute("data-status");
      if (s && record.statuses[record.statuses.length - 1] !== s) record.statuses.push(s);
    }
  };
  new MutationObserver(scan).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-status", "data-alert-id"] });
})();`;

/** A browser context whose pages record cards and statuses; page errors and CSP violations are collected in `problems`. */
export interface DashboardContext {
  readonly context: BrowserContext;
  /** Uncaught page errors and Content-Security-Policy violations seen in any page of the context. */
  readonly problems: string[];
  newPage(): Promise<Page>;
}

/** A tab's sessionStorage (where the dashboard keeps a pasted or dev token), to start another tab signed in. */
export interface TabSession {
  origin: string;
  items: Record<string, string>;
}

/** The sessionStorage of `page`'s tab. */
export const tabSession = (page: Page): Promise<TabSession> =>
  page.evaluate(() => ({ origin: location.origin, items: Object.fromEntries(Object.entries(sessionStorage)) }));

/**
 * Opens a context (desktop 1280×800 unless `options` says otherwise) with the
 * recorder installed; with `session`, its pages start with that tab's
 * sessionStorage, i.e. signed in, as a duplicated tab would.
 */
export async function openContext(browser: Browser, options: BrowserContextOptions & { session?: TabSession } = {}): Promise<DashboardContext> {
  const { session, ...contextOptions } = options;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  await context.addInitScript({ content: RECORDER });
  if (session) {
    await context.addInitScript(
      ({ origin, items }) => {
        if (location.origin !== origin) return;
        for (const [k, v] of Object.entries(items)) if (sessionStorage.getItem(k) === null) sessionStorage.setItem(k, v);
      },
      session,
    );
  }
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error" && /Content.Security.Policy/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
    });
  };
  context.on("page", watch);
  return { context, problems, newPage: () => context.newPage() };
}

export interface DevUser {
  userId: string;
  org: string;
  role: Exclude<Role, "service">;
}

/**
 * Opens the dashboard at `baseUrl` and signs in through the sign-in page's
 * "Dev token" form (development builds only); resolves once the signed-in
 * layout (the banner with the connection indicator) shows.
 */
export async function signInWithDevToken(page: Page, baseUrl: string, user: DevUser, pathAndQuery = "/"): Promise<void> {
  await page.goto(`${baseUrl}${pathAndQuery}`);
  try {
    await page.getByRole("main").getByRole("heading", { name: "Sign in to Herald" }).waitFor({ timeout: 30_000 });
  } catch (err) {
    const text = await page.evaluate(() => document.body?.innerText ?? "").catch(() => "");
    throw new Error(`no sign-in page at ${page.url()}: ${(err as Error).message}\npage text: ${text.slice(0, 500)}`);
  }
  const form = page.getByRole("form", { name: "Dev token" });
  await form.getByRole("textbox", { name: "User id" }).fill(user.userId);
  await form.getByRole("textbox", { name: "Organization" }).fill(user.org);
  await form.getByRole("combobox", { name: "Role" }).selectOption(user.role);
  await form.getByRole("button", { name: "Get a dev token" }).click();
  await connection(page).waitFor({ timeout: 30_000 });
}

/** The connection indicator (`role="status"` named "Connection"; `data-status` is the SDK's status). */
export const connection = (page: Page): Locator => page.getByRole("status", { name: "Connection", exact: true });

/** The connection indicator's data-status (open, polling, closed, connecting). */
export const connectionStatus = (page: Page): Promise<string | null> => connection(page).getAttribute("data-status");

/** The alert feed (`role="feed"` named "Alert feed"). */
export const feed = (page: Page): Locator => page.getByRole("feed", { name: "Alert feed" });

/** Every alert card in the feed. */
export const cards = (page: Page): Locator => feed(page).locator("article[data-alert-id]");

/** The card of the alert with `id`. */
export const card = (page: Page, id: string): Locator => feed(page).locator(`article[data-alert-id="${id}"]`);

/** The bell (its accessible name is "Notifications, N unread"). */
export const bell = (page: Page): Locator => page.getByRole("banner").getByRole("button", { name: /^Notifications, \d+ unread$/ });

/** The bell's unread count from its data-unread, or null when the bell is not there yet. */
export async function unreadCount(page: Page): Promise<number | null> {
  const b = bell(page);
  if ((await b.count()) === 0) return null;
  const v = await b.getAttribute("data-unread");
  return v === null ? null : Number(v);
}

/** What the recorder saw in `page`. */
export const record = (page: Page): Promise<PageRecord> => page.evaluate(() => window.heraldE2E);

/** When the pieces of a page load finished, in ms since its navigation started. */
export interface LoadTimings {
  /** The first alert card entered the DOM. */
  firstCard: number;
  /** The HTML document arrived. */
  document: number;
  /** DOMContentLoaded ended (the module script ran). */
  domContentLoaded: number;
  /** The last JavaScript file arrived. */
  scripts: number;
  /** The first alert list request (GET /api/v1/alerts) answered. */
  alertList: number | null;
  /** Every API request of the load: path, start and end. */
  api: { path: string; start: number; end: number }[];
}

/** The load timings of `page`'s current document, once its first card is in the DOM. */
export async function loadTimings(page: Page): Promise<LoadTimings> {
  await cards(page).first().waitFor({ timeout: 15_000 });
  return page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    const resources = performance.getEntriesByType("resource") as PerformanceResourceTiming[];
    const scripts = resources.filter((r) => r.name.endsWith(".js")).map((r) => r.responseEnd);
    const list = resources.find((r) => /\/api\/v1\/alerts(\?|$)/.test(new URL(r.name).pathname + new URL(r.name).search));
    const round = (n: number) => Math.round(n);
    return {
      firstCard: round(Math.min(...Object.values(window.heraldE2E.cards).map((c) => c.perf))),
      document: round(nav.responseEnd),
      domContentLoaded: round(nav.domContentLoadedEventEnd),
      scripts: round(Math.max(0, ...scripts)),
      alertList: list ? round(list.responseEnd) : null,
      api: resources
        .filter((r) => new URL(r.name).pathname.startsWith("/api/"))
        .map((r) => ({ path: new URL(r.name).pathname, start: round(r.startTime), end: round(r.responseEnd) })),
    };
  });
}

/** The ids of the cards in the feed, in order. */
export const cardIds = (page: Page): Promise<string[]> =>
  cards(page).evaluateAll((els) => els.map((el) => el.getAttribute("data-alert-id") ?? ""));

/**
 * Picks the option whose accessible name matches `name` in a combobox: a
 * native <select> by its label, otherwise by opening it and clicking the
 * option.
 */
export async function chooseOption(combobox: Locator, name: RegExp): Promise<void> {
  const tag = await combobox.evaluate((el) => el.tagName);
  if (tag === "SELECT") {
    const label = await combobox.evaluate((el, source) => {
      const re = new RegExp(source, "i");
      return [...(el as HTMLSelectElement).options].find((o) => re.test(o.label))?.label ?? null;
    }, name.source);
    if (label === null) {
      const all = await combobox.evaluate((el) => [...(el as HTMLSelectElement).options].map((o) => o.label));
      throw new Error(`no option matching ${name} in ${JSON.stringify(all)}`);
    }
    await combobox.selectOption({ label });
    return;
  }
  await combobox.click();
  await combobox.page().getByRole("option", { name }).first().click();
}

/** The first integer in `text` ("1,204 alerts" → 1204), or null. */
export function firstNumber(text: string | null): number | null {
  const m = text?.replace(/[,\u202f\u00a0]/g, "").match(/-?\d+(\.\d+)?/);
  return m ? Number(m[0]) : null;
}

/** Merges `figures` into test-results/dashboard-metrics.json (created when missing). */
export function writeMetrics(figures: Record<string, unknown>): void {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, "dashboard-metrics.json");
  let current: Record<string, unknown> = {};
  try {
    current = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    // first figure of the run
  }
  fs.writeFileSync(file, `${JSON.stringify({ ...current, ...figures, updatedAt: new Date().toISOString() }, null, 2)}\n`);
}

/**
 * Saves a screenshot as test-results/<name>.png and returns its path: the
 * viewport, the full page, or the page's top `height` pixels.
 */
export async function screenshot(page: Page, name: string, what: "viewport" | "full" | { height: number } = "viewport"): Promise<string> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.png`);
  const width = page.viewportSize()?.width ?? 1280;
  await page.screenshot({
    path: file,
    animations: "disabled",
    fullPage: what !== "viewport",
    ...(typeof what === "object" ? { clip: { x: 0, y: 0, width, height: what.height } } : {}),
  });
  return file;
}

/** What a dashboard test file shares: its server, its Chromium, and `open` for a context the running test owns. */
export interface DashboardSuite {
  readonly server: Server;
  readonly browser: Browser;
  /** A new context (see `openContext`), closed after the running test; its page errors and CSP violations fail that test. */
  open(options?: BrowserContextOptions & { session?: TabSession }): Promise<DashboardContext>;
}

/**
 * Registers a dashboard test file's hooks: one server (`wrangler dev` with the
 * development build of the dashboard) and one Chromium for the file, and after
 * each test its contexts closed and their page problems asserted empty.
 */
export function dashboardSuite(name: string): DashboardSuite {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let opened: DashboardContext[] = [];
  beforeAll(async () => {
    if (!fs.existsSync(path.join(ROOT, "dashboard/dist/index.html"))) {
      throw new Error("dashboard/dist is missing: run node dashboard/build.mjs --mode development (npm run test:e2e does)");
    }
    server = await startServer({ name });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  afterEach(async () => {
    const problems = opened.flatMap((c) => c.problems);
    for (const c of opened) await c.context.close().catch(() => undefined);
    opened = [];
    expect(problems, "page errors or CSP violations").toEqual([]);
  });
  return {
    get server() {
      if (!server) throw new Error("dashboardSuite: the server is not started yet (use it inside a test)");
      return server;
    },
    get browser() {
      if (!browser) throw new Error("dashboardSuite: Chromium is not launched yet (use it inside a test)");
      return browser;
    },
    async open(options) {
      const ctx = await openContext(this.browser, options);
      opened.push(ctx);
      return ctx;
    },
  };
}
