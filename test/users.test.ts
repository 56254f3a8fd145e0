import { describe, expect, it } from "vitest";
import { forgetSeenClaims } from "../src/services/users";
import { call, makeToken, uniqueOrg } from "./helpers";
import { orgBeside } from "./shard-helpers";

describe("PUT /api/v1/users/:id", () => {
  it("creates a profile with 201, then updates it with 200 keeping fields not sent", async () => {
    const org = uniqueOrg();
    const admin = await makeToken({ org, role: "admin" });
    const created = await call("PUT", "/api/v1/users/agent-7", {
      token: admin,
      body: { email: "a7@example.com", name: "Agent Seven", phone: "+14155550123", role: "agent", departments: ["sales", "emea"] },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      id: "agent-7",
      organizationId: org,
      email: "a7@example.com",
      phone: "+14155550123",
      role: "agent",
      departments: ["sales", "emea"],
    });
    const updated = await call("PUT", "/api/v1/users/agent-7", { token: admin, body: { name: "Agent 7" } });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ name: "Agent 7", email: "a7@example.com", phone: "+14155550123", departments: ["sales", "emea"] });
    const cleared = await call("PUT", "/api/v1/users/agent-7", { token: admin, body: { phone: null } });
    expect(cleared.json.phone).toBeNull();
  });

  it.each([
    ["a phone not in E.164", { phone: "555-0123" }],
    ["an invalid email", { email: "nope" }],
    ["an unknown role", { role: "owner" }],
    ["an unknown field", { nickname: "x" }],
    ["departments as a string", { departments: "sales" }],
  ])("rejects %s with 400 VALIDATION_FAILED", async (_name, body) => {
    const admin = await makeToken({ org: uniqueOrg(), role: "admin" });
    const res = await call("PUT", "/api/v1/users/x1", { token: admin, body });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
    const read = await call("GET", "/api/v1/users/x1", { token: admin });
    expect(read.status).toBe(404);
  });

  it("refuses a PUT without a body or Content-Type with 415 UNSUPPORTED_MEDIA_TYPE and creates no profile", async () => {
    const admin = await makeToken({ org: uniqueOrg(), role: "admin" });
    const res = await call("PUT", "/api/v1/users/blank-1", { token: admin });
    expect(res.status, res.text).toBe(415);
    expect(res.json.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    const read = await call("GET", "/api/v1/users/blank-1", { token: admin });
    expect(read.status, read.text).toBe(404);
    expect(read.json.error.code).toBe("USER_NOT_FOUND");
  });

  it("refuses a PUT with Content-Type: application/json but an empty body with 400 INVALID_JSON and creates no profile", async () => {
    const admin = await makeToken({ org: uniqueOrg(), role: "admin" });
    const res = await call("PUT", "/api/v1/users/blank-2", { token: admin, rawBody: "", headers: { "Content-Type": "application/json" } });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.code).toBe("INVALID_JSON");
    const read = await call("GET", "/api/v1/users/blank-2", { token: admin });
    expect(read.status, read.text).toBe(404);
    expect(read.json.error.code).toBe("USER_NOT_FOUND");
  });

  it("rejects an id with spaces with 400", async () => {
    const admin = await makeToken({ org: uniqueOrg(), role: "admin" });
    const res = await call("PUT", "/api/v1/users/has%20space", { token: admin, body: {} });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
  });

  it.each(["agent", "member"] as const)("refuses a %s with 403 FORBIDDEN", async (role) => {
    const org = uniqueOrg();
    const res = await call("PUT", "/api/v1/users/x1", { token: await makeToken({ org, role }), body: { name: "X" } });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe("FORBIDDEN");
  });
});

describe("GET /api/v1/users/:id", () => {
  it("lets members read only themselves and answers 404 USER_NOT_FOUND for unknown or other orgs' ids", async () => {
    const org = uniqueOrg();
    const admin = await makeToken({ org, role: "admin" });
    const member = await makeToken({ org, sub: "m1", role: "member" });
    await call("PUT", "/api/v1/users/m2", { token: admin, body: { name: "Other" } });

    expect((await call("GET", "/api/v1/users/m1", { token: member })).status).toBe(200);
    const other = await call("GET", "/api/v1/users/m2", { token: member });
    expect(other.status).toBe(403);
    expect(other.json.error.code).toBe("FORBIDDEN");

    const unknown = await call("GET", "/api/v1/users/nobody", { token: admin });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("USER_NOT_FOUND");

    // On the same shard, so only the org check hides m2.
    const foreignAdmin = await makeToken({ org: await orgBeside(org), role: "admin" });
    const foreign = await call("GET", "/api/v1/users/m2", { token: foreignAdmin });
    expect(foreign.status).toBe(404);
    expect(foreign.json.error.code).toBe("USER_NOT_FOUND");
  });

  it("keeps admin-set phone and departments when token claims refresh email and name", async () => {
    const org = uniqueOrg();
    const admin = await makeToken({ org, role: "admin" });
    await call("PUT", "/api/v1/users/rep1", {
      token: admin,
      body: { phone: "+14155550100", departments: ["sales"], email: "old@example.com" },
    });
    forgetSeenClaims();
    const rep = await makeToken({ org, sub: "rep1", role: "agent", email: "new@example.com", name: "Rep One" });
    const self = await call("GET", "/api/v1/users/rep1", { token: rep });
    expect(self.status).toBe(200);
    expect(self.json).toMatchObject({
      email: "new@example.com",
      name: "Rep One",
      role: "agent",
      phone: "+14155550100",
      departments: ["sales"],
    });
    expect(self.json.lastSeenAt).not.toBeNull();
  });
});
