// The dashboard's view of alert routing (issue 13) in headless Chromium
// against the real Worker: an admin's routing rule, created over REST, assigns
// an alert created without an assignee; the card shows the agent and why, the
// detail view's Assignments table lists the routed assignment with the rule and
// its reason (no serious or critical axe-core violation); an escalation (its
// SLA passed unacknowledged) moves the card to the next agent and marks it
// "Escalated" in words. Elements are found by role and accessible name
// (docs/DASHBOARD.md).
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { api } from "./harness/api";
import { axeScan, blocking, describeViolations } from "./harness/axe";
import { card, connectionStatus, dashboardSuite, feed, signInWithDevToken, type DevUser } from "./harness/dashboard";
import { mintToken, uid } from "./harness/tokens";

interface Alert {
  id: string;
  title: string;
  assigneeId: string | null;
}

interface Assignment {
  kind: string;
  agentId: string | null;
  ruleName: string | null;
  reason: string;
  level: number;
}

const suite = dashboardSuite("dashboard-routing");

/** expect.poll with a timeout fit for a loaded machine (vitest's default is one second). */
const poll = <T>(check: () => T | Promise<T>, timeout = 10_000) => expect.poll(check, { timeout, interval: 50 });

/** A new organization with a service (producer, directory) and an admin (rules) over REST, and `agents` in its directory. */
async function orgWithAgents(agents: string[]) {
  const org = uid("org");
  const service = api(suite.server.url, await mintToken({ sub: uid("svc"), org, role: "service" }));
  const adminId = uid("admin");
  const admin = api(suite.server.url, await mintToken({ sub: adminId, org, role: "admin" }));
  for (const id of agents) await service.call("PUT", `/api/v1/users/${id}`, { role: "agent", name: id });
  return { org, service, admin, adminId };
}

/** Signs the org's admin in with the dev-token form and waits until the feed is Live and loaded. */
async function adminPage(user: DevUser): Promise<Page> {
  const ctx = await suite.open();
  const page = await ctx.newPage();
  await signInWithDevToken(page, suite.server.url, user);
  await poll(() => connectionStatus(page), 30_000).toBe("open");
  await poll(() => feed(page).getAttribute("aria-busy")).not.toBe("true");
  return page;
}

/** The card's value of the fact `term` (a dt/dd pair). */
const fact = (page: Page, alertId: string, term: string) =>
  card(page, alertId).locator(`dt:text-is("${term}") + dd`).textContent();

describe("dashboard: routing", () => {
  it("a rule routes an alert created without assignee: the card shows the agent and why, the detail view the routed assignment", async () => {
    const agent = uid("agent");
    const { org, service, admin, adminId } = await orgWithAgents([agent]);
    const ruleName = "E2E least loaded";
    // Admins are agents to routing too, and this one is online: the rule names the agent it may choose.
    await admin.call("POST", "/api/v1/routing/rules", { name: ruleName, strategy: "least_loaded", params: { agentIds: [agent] } });
    const page = await adminPage({ userId: adminId, org, role: "admin" });

    const alert = await service.call<Alert>("POST", "/api/v1/alerts", {
      alertType: "LIKELY_TO_SELL",
      priority: "MEDIUM",
      confidence: 0.8,
      title: `Routed ${uid("alert")}`,
    });
    expect(alert.assigneeId).toBe(agent);

    await card(page, alert.id).waitFor({ timeout: 15_000 });
    await poll(() => fact(page, alert.id, "Assignee")).toBe(agent);
    await poll(() => fact(page, alert.id, "Why")).toMatch(/^Routed: /);
    expect(await fact(page, alert.id, "Why")).toContain(ruleName);
    expect(await card(page, alert.id).getAttribute("data-escalated")).toBeNull();

    await card(page, alert.id).getByRole("button", { name: "Details", exact: true }).click();
    const details = page.getByRole("dialog", { name: "Alert details" });
    await details.waitFor();
    await details.getByRole("heading", { name: "Assignments" }).waitFor();
    const table = details.getByRole("region", { name: "Assignments table" });
    await table.waitFor({ timeout: 10_000 });
    const rows = table.getByRole("row");
    await poll(() => rows.count()).toBe(2); // header + the routed assignment
    const cells = await rows.nth(1).getByRole("cell").allTextContents();
    const [kind, assignee, rule, strategy, reason, level] = cells;
    expect({ kind, assignee, rule, strategy, level }).toEqual({ kind: "Routed", assignee: agent, rule: ruleName, strategy: "least_loaded", level: "0" });
    // The reason shown is the server's, word for word.
    const listed = await admin.call<{ items: Assignment[] }>("GET", `/api/v1/alerts/${alert.id}/assignments`);
    expect(listed.items).toHaveLength(1);
    expect(reason).toBe(listed.items[0]!.reason);
    expect(reason).toContain(`Rule "${ruleName}"`);
    // The card with its "Why" and the dialog with the Assignments table, as assistive technology meets them.
    const violations = blocking(await axeScan(page));
    expect(violations, describeViolations("the feed with a routed card and its details", violations)).toEqual([]);

    await details.getByRole("button", { name: "Close" }).click();
    await details.waitFor({ state: "hidden" });
  });

  it("an escalation moves the card to the next agent and marks it Escalated in words; the detail view lists it at level 1", async () => {
    const agents = [uid("agent-a"), uid("agent-b")];
    const { org, service, admin, adminId } = await orgWithAgents(agents);
    const ruleName = "E2E escalating pool";
    await admin.call("POST", "/api/v1/routing/rules", {
      name: ruleName,
      strategy: "pool",
      params: { agentIds: agents },
      // Long enough that the card is seen routed before it escalates, even when the page is slow to load (it once took > 10 s).
      escalation: { slaSeconds: { HIGH: 30 }, to: "next_agent", maxLevels: 1 },
    });
    const page = await adminPage({ userId: adminId, org, role: "admin" });

    const alert = await service.call<Alert>("POST", "/api/v1/alerts", {
      alertType: "LIKELY_TO_SELL",
      priority: "HIGH",
      confidence: 0.9,
      title: `Escalating ${uid("alert")}`,
    });
    expect(agents).toContain(alert.assigneeId);
    const next = agents.find((a) => a !== alert.assigneeId)!;
    await card(page, alert.id).waitFor({ timeout: 15_000 });
    await poll(() => fact(page, alert.id, "Why")).toMatch(/^Routed: /);
    expect(await card(page, alert.id).getByText("Escalated", { exact: true }).count()).toBe(0);

    // Nobody acknowledges: 30 s after the create the org hub's alarm escalates it.
    await poll(() => fact(page, alert.id, "Assignee"), 60_000).toBe(next);
    await poll(() => card(page, alert.id).getAttribute("data-escalated")).toBe("true");
    await card(page, alert.id).getByText(/^Escalated/).waitFor();
    expect(await fact(page, alert.id, "Why")).toMatch(/^Escalated: /);

    await card(page, alert.id).getByRole("button", { name: "Details", exact: true }).click();
    const details = page.getByRole("dialog", { name: "Alert details" });
    const rows = details.getByRole("region", { name: "Assignments table" }).getByRole("row");
    await poll(() => rows.count()).toBeGreaterThanOrEqual(3);
    const kinds = await rows.evaluateAll((trs) => trs.slice(1).map((tr) => [tr.children[0]?.textContent, tr.children[1]?.textContent, tr.children[5]?.textContent]));
    expect(kinds[0]).toEqual(["Routed", alert.assigneeId, "0"]);
    expect(kinds[1]?.[0]).toBe("Escalated");
    expect(kinds[1]?.[1]).toContain(next);
    expect(kinds[1]?.[2]).toBe("1");
  });
});
