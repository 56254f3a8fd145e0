import { describe, expect, it } from "vitest";
import { ErrorCode } from "../src/errors";
import type { Role } from "../src/types";
import { call, makeToken, uniqueOrg } from "./helpers";

/**
 * A role-restricted route answers a caller without the role 403 FORBIDDEN
 * before it looks at the request: an invalid body, query or path (or none at
 * all) must not turn into a 400 whose details describe what the route accepts.
 */
interface Case {
  name: string;
  method: string;
  path: string;
  /** Roles that may not call the route at all. */
  refused: Role[];
  /** An invalid body (sent as JSON); undefined: no body. */
  body?: unknown;
}

/** Longer than any webhook id may be: the path itself is invalid. */
const BAD_ID = "w".repeat(65);

const cases: Case[] = [
  { name: "create an alert", method: "POST", path: "/api/v1/alerts", refused: ["agent", "member"], body: { confidence: 2, priority: "URGENT" } },
  { name: "list the directory", method: "GET", path: "/api/v1/users?limit=0&role=owner", refused: ["agent", "member"] },
  { name: "upsert a user", method: "PUT", path: "/api/v1/users/has%20space", refused: ["agent", "member"], body: { email: "nope", role: "owner" } },
  { name: "broadcast", method: "POST", path: "/api/v1/realtime/broadcast", refused: ["agent", "member"], body: { event: "Not Valid", target: {} } },
  { name: "realtime stats", method: "GET", path: "/api/v1/realtime/stats", refused: ["service", "agent", "member"] },
  { name: "realtime connections", method: "GET", path: "/api/v1/realtime/connections", refused: ["service", "agent", "member"] },
  { name: "presence of everyone", method: "GET", path: "/api/v1/realtime/presence", refused: ["agent", "member"] },
  { name: "notify users", method: "POST", path: "/api/v1/notifications", refused: ["agent", "member"], body: { userIds: [], template: 5 } },
  { name: "read the org defaults", method: "GET", path: "/api/v1/org/preferences", refused: ["service", "agent", "member"] },
  { name: "replace the org defaults", method: "PUT", path: "/api/v1/org/preferences", refused: ["service", "agent", "member"], body: { channels: "all", bogus: 1 } },
  { name: "register a webhook", method: "POST", path: "/api/v1/webhooks", refused: ["service", "agent", "member"], body: { url: 42, events: [] } },
  { name: "list webhooks", method: "GET", path: "/api/v1/webhooks", refused: ["service", "agent", "member"] },
  { name: "read a webhook", method: "GET", path: `/api/v1/webhooks/${BAD_ID}`, refused: ["service", "agent", "member"] },
  { name: "change a webhook", method: "PATCH", path: `/api/v1/webhooks/${BAD_ID}`, refused: ["service", "agent", "member"], body: { enabled: "yes" } },
  { name: "delete a webhook", method: "DELETE", path: `/api/v1/webhooks/${BAD_ID}`, refused: ["service", "agent", "member"] },
  { name: "test a webhook", method: "POST", path: `/api/v1/webhooks/${BAD_ID}/test`, refused: ["service", "agent", "member"] },
  { name: "list routing rules", method: "GET", path: "/api/v1/routing/rules", refused: ["service", "agent", "member"] },
  { name: "create a routing rule", method: "POST", path: "/api/v1/routing/rules", refused: ["service", "agent", "member"], body: { strategy: "random", position: 0 } },
  { name: "read a routing rule", method: "GET", path: `/api/v1/routing/rules/${BAD_ID}`, refused: ["service", "agent", "member"] },
  { name: "replace a routing rule", method: "PUT", path: `/api/v1/routing/rules/${BAD_ID}`, refused: ["service", "agent", "member"], body: { name: "", version: 0 } },
  { name: "delete a routing rule", method: "DELETE", path: `/api/v1/routing/rules/${BAD_ID}`, refused: ["service", "agent", "member"] },
  { name: "routing agents", method: "GET", path: "/api/v1/routing/agents?limit=0&cursor=", refused: ["agent", "member"] },
  { name: "routing stats", method: "GET", path: "/api/v1/routing/stats?since=yesterday", refused: ["service", "agent", "member"] },
  { name: "set one's availability", method: "PUT", path: "/api/v1/me/availability", refused: ["service"], body: { availability: "busy" } },
  { name: "a webhook's deliveries", method: "GET", path: `/api/v1/webhooks/${BAD_ID}/deliveries?limit=0&status=nope`, refused: ["service", "agent", "member"] },
];

const admin = async (org: string) => makeToken({ org, sub: "admin1", role: "admin" });

describe("authorization before validation", () => {
  describe.each(cases)("$method $path ($name)", ({ method, path, refused, body }) => {
    it.each(refused)("answers a %s 403 FORBIDDEN without details, whatever the input", async (role) => {
      const org = uniqueOrg();
      const token = await makeToken({ org, sub: `${role}-1`, role });
      const res = await call(method, path, { token, ...(body !== undefined && { body }) });
      expect(res.status, res.text).toBe(403);
      expect(res.json.error.code).toBe(ErrorCode.FORBIDDEN);
      expect(res.json.error).not.toHaveProperty("details");
      if (body !== undefined) {
        // No body at all is refused for the role too, not for the missing body.
        const bare = await call(method, path, { token });
        expect(bare.status, bare.text).toBe(403);
        expect(bare.json.error.code).toBe(ErrorCode.FORBIDDEN);
      }
    });

    // The input really is invalid: a caller with the role gets the validation error (control).
    if (body !== undefined || path.includes("%20") || path.includes(BAD_ID)) {
      it("answers an admin 400 VALIDATION_FAILED for the same input (control)", async () => {
        const res = await call(method, path, { token: await admin(uniqueOrg()), ...(body !== undefined && { body }) });
        expect(res.status, res.text).toBe(400);
        expect(res.json.error.code).toBe(ErrorCode.VALIDATION_FAILED);
      });
    }
  });

  it("documents 403 on every restricted operation in /openapi.json", async () => {
    const doc = (await call("GET", "/openapi.json")).json;
    for (const { method, path } of cases) {
      const docPath = path.split("?")[0]!.replace("has%20space", "{id}").replace(BAD_ID, "{id}");
      const op = doc.paths[docPath]?.[method.toLowerCase()];
      expect(op, `${method} ${docPath}`).toBeDefined();
      expect(Object.keys(op.responses), `${method} ${docPath}`).toContain("403");
    }
  });
});
