import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, makeToken, uniqueOrg } from "./helpers";
import { orgD1 } from "./shard-helpers";
import { connect, eventually } from "./ws-helpers";

/**
 * People who only ever open sockets are in the directory (so notifications
 * reach them): the org hub records them, many in one D1 statement, shortly
 * after the upgrade (OrgHub `SeenClaims`), not the Worker on the upgrade path.
 */
describe("the directory records people seen on sockets", () => {
  async function directoryRow(org: string, id: string) {
    const d1 = await orgD1(org);
    return d1.prepare("SELECT role, email, name, phone, last_seen_at FROM users WHERE org_id = ? AND id = ?").bind(org, id).first<{
      role: string;
      email: string | null;
      name: string | null;
      phone: string | null;
      last_seen_at: number | null;
    }>();
  }

  it.each([
    ["the user stream", "/api/v1/ws"],
    ["the org stream", "/api/v1/ws/org"],
  ])("records a person whose only request is a socket on %s, with the token's claims", async (_name, path) => {
    const org = uniqueOrg();
    const token = await makeToken({ org, sub: "sock-1", role: "agent", email: "s1@example.com", name: "Sock One" });
    const s = await connect(path, { token });
    let row: Awaited<ReturnType<typeof directoryRow>> = null;
    await eventually(async () => (row = await directoryRow(org, "sock-1")) !== null, "the directory row");
    expect(row).toMatchObject({ role: "agent", email: "s1@example.com", name: "Sock One", phone: null });
    expect(row!.last_seen_at).toBeGreaterThan(Date.now() - 60_000);
    s.close();
  });

  it("records every person of a burst of connects, and updates changed claims without touching admin-set fields", async () => {
    const org = uniqueOrg();
    const admin = await makeToken({ org, role: "admin" });
    const put = await call("PUT", "/api/v1/users/p0", { token: admin, body: { phone: "+14155550100", departments: ["sales"] } });
    expect(put.status).toBe(201);
    const sockets = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => connect("/api/v1/ws/org", { token: await makeToken({ org, sub: `p${i}`, role: "agent", name: `Person ${i}` }) })),
    );
    await eventually(async () => (await directoryRow(org, "p29")) !== null && (await directoryRow(org, "p0"))?.name === "Person 0", "30 rows");
    const d1 = await orgD1(org);
    const n = await d1.prepare("SELECT count(*) AS n FROM users WHERE org_id = ? AND id LIKE 'p%'").bind(org).first<{ n: number }>();
    expect(n?.n).toBe(30);
    expect(await directoryRow(org, "p0")).toMatchObject({ name: "Person 0", phone: "+14155550100", role: "agent" });

    // A new name in the token is written at the next connect; an absent email keeps the stored one.
    const renamed = await connect("/api/v1/ws", { token: await makeToken({ org, sub: "p1", role: "agent", name: "Renamed" }) });
    await eventually(async () => (await directoryRow(org, "p1"))?.name === "Renamed", "the new name");
    for (const s of [...sockets, renamed]) s.close();
  });

  it("writes nothing for a person whose claims did not change, even after the org hub restarts", async () => {
    const org = uniqueOrg();
    const token = await makeToken({ org, sub: "steady", role: "agent", name: "Steady" });
    (await connect("/api/v1/ws/org", { token })).close();
    await eventually(async () => (await directoryRow(org, "steady")) !== null, "the first record");
    const first = (await directoryRow(org, "steady"))!.last_seen_at;
    // Evict the org hub: its memory is gone, its table of what it recorded is not.
    const hub = env.ORG_HUB.get(env.ORG_HUB.idFromName(org));
    await evictDurableObject(hub, { webSockets: "hibernate" });
    const again = await connect("/api/v1/ws/org", { token });
    // A later person's record proves the flush after the reconnect has run.
    (await connect("/api/v1/ws/org", { token: await makeToken({ org, sub: "later", role: "agent" }) })).close();
    await eventually(async () => (await directoryRow(org, "later")) !== null, "the later record");
    expect((await directoryRow(org, "steady"))!.last_seen_at).toBe(first);
    again.close();
  });

  it("never records service tokens", async () => {
    const org = uniqueOrg();
    const s = await connect("/api/v1/ws/org", { token: await makeToken({ org, sub: "svc-sock", role: "service" }) });
    // An agent connecting after it is recorded; the service is not.
    const a = await connect("/api/v1/ws/org", { token: await makeToken({ org, sub: "after", role: "agent" }) });
    await eventually(async () => (await directoryRow(org, "after")) !== null, "the agent's row");
    expect(await directoryRow(org, "svc-sock")).toBeNull();
    s.close();
    a.close();
  });
});
