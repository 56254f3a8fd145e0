// In headless Chromium: a page on another origin than the API loads the SDK's
// browser bundle, authenticates every dial with a single-use ticket (a browser
// cannot set headers on a WebSocket) and receives events; a second page of the
// same user sees the badge fall when the first marks a notification read.
import fs from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, eventually } from "./harness/api";
import { launchChromium, SDK_BUNDLE, startPageServer, type PageServer } from "./harness/browser";
import { startProxy, type Proxy } from "./harness/proxy";
import { startServer, type Server } from "./harness/server";
import { mintToken, uid } from "./harness/tokens";

let server: Server;
let proxy: Proxy;
let pages: PageServer;
let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(SDK_BUNDLE)) throw new Error(`${SDK_BUNDLE} is missing: run npm run build:sdk (npm run test:e2e does)`);
  server = await startServer({ name: "browser" });
  proxy = await startProxy(server.port);
  pages = await startPageServer();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await pages?.close();
  await proxy?.close();
  await server?.stop();
});

declare global {
  interface Window {
    Herald: typeof import("../../packages/sdk/src/index");
    heraldReady?: boolean;
    herald: import("../../packages/sdk/src/index").Herald;
    seen: { name: string; data: any }[];
    badges: number[];
  }
}

/** Opens the app page and starts the SDK in it, with a token the page got from its backend. */
async function openApp(apiUrl: string, token: string): Promise<Page> {
  const page = await browser.newPage();
  page.on("pageerror", (err) => console.error("page error:", err));
  await page.goto(`${pages.origin}/`);
  await page.waitForFunction(() => window.heraldReady === true, undefined, { timeout: 30_000 });
  await page.evaluate(
    ({ apiUrl, token }) => {
      window.seen = [];
      window.badges = [];
      window.herald = window.Herald.createHerald({ url: apiUrl, token, backoff: { minDelayMs: 300, maxDelayMs: 2000 } });
      window.herald.onAny((name, data) => window.seen.push({ name, data }));
      window.herald.on("inbox", (state) => window.badges.push(state.unreadCount));
    },
    { apiUrl, token },
  );
  return page;
}

const statusOf = (page: Page) => page.evaluate(() => window.herald.status);
const badgeOf = (page: Page) => page.evaluate(() => window.herald.inbox.unreadCount);

describe("browser", () => {
  it("a cross-origin page gets events with a ticket; a second page's badge falls when the first marks read", async () => {
    const org = uid("org");
    const userId = uid("u");
    const token = await mintToken({ sub: userId, org, role: "agent" });
    const first = await openApp(proxy.url, token);
    const second = await openApp(proxy.url, token);
    await eventually("both pages live", async () => (await statusOf(first)) === "open" && (await statusOf(second)) === "open", 60_000);

    // The upgrades came from the page's origin, each with a ticket, never with the token in the URL.
    const upgrades = proxy.log.filter((r) => r.upgrade);
    expect(upgrades.length).toBeGreaterThanOrEqual(2);
    for (const u of upgrades) expect(u.target).toMatch(/[?&]ticket=/);
    expect(proxy.log.some((r) => r.target.includes("token="))).toBe(false);

    const admin = api(server.url, await mintToken({ sub: uid("admin"), org, role: "admin" }));
    await admin.call("POST", "/api/v1/realtime/broadcast", { event: "deal:won", data: { amount: 4200 }, target: { userIds: [userId] } });
    for (const page of [first, second]) {
      await eventually("the event in the page", () => page.evaluate(() => window.seen.some((e) => e.name === "deal:won" && e.data.amount === 4200)), 30_000);
    }

    await admin.call("POST", "/api/v1/notifications", { userIds: [userId], type: "task", title: "Call Jane back", channels: ["in_app", "realtime"] });
    await admin.call("POST", "/api/v1/notifications", { userIds: [userId], type: "task", title: "Send the offer", channels: ["in_app", "realtime"] });
    await eventually("both badges at 2", async () => (await badgeOf(first)) === 2 && (await badgeOf(second)) === 2, 30_000);
    const id = await first.evaluate(() => window.seen.find((e) => e.name === "notification:new")!.data.notification.id as string);

    await first.evaluate((id) => window.herald.inbox.markRead(id), id);
    await eventually("the second page's badge fell", async () => (await badgeOf(second)) === 1, 30_000);
    const rest = await api(server.url, token).call<{ unread: number }>("GET", "/api/v1/notifications/counts");
    expect(rest.unread).toBe(1);
    expect(await badgeOf(first)).toBe(1);

    for (const page of [first, second]) {
      await page.evaluate(() => window.herald.close());
      expect(await page.evaluate(() => window.herald.active)).toBe(false);
      await page.close();
    }
  });
});
