import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { BASE, makeToken, uniqueOrg } from "./helpers";

// CORS_ORIGINS and ALLOWED_ORIGINS share one grammar (README, "Configuration"):
// a comma list, "*" for any origin, empty for no browser origin.
const app = createApp();

/** Runs the app as a deployment with these vars would. */
function fetchWith(vars: Partial<Env>, path: string, init: RequestInit) {
  return app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...vars }, createExecutionContext());
}

/** Opens the user stream; resolves with the first frame's type, or the close code when refused. */
async function openUserStream(vars: Partial<Env>, origin: string | undefined): Promise<string | number> {
  const token = await makeToken({ org: uniqueOrg(), sub: "u-origin", role: "agent" });
  const headers: Record<string, string> = { Upgrade: "websocket", Authorization: `Bearer ${token}` };
  if (origin) headers.Origin = origin;
  const res = await fetchWith(vars, "/api/v1/ws", { headers });
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) throw new Error(`expected 101, got ${res.status}`);
  const first = new Promise<string | number>((resolve) => {
    ws.addEventListener("message", (e) => resolve((JSON.parse(e.data as string) as { type: string }).type));
    ws.addEventListener("close", (e) => resolve(e.code));
  });
  ws.accept();
  const outcome = await first;
  ws.close(1000);
  return outcome;
}

describe("allowed origins", () => {
  it('ALLOWED_ORIGINS="*" lets any browser origin open a socket', async () => {
    expect(await openUserStream({ ALLOWED_ORIGINS: "*" }, "https://anything.example")).toBe("connected");
  });

  it("an empty ALLOWED_ORIGINS refuses every browser origin with close 4403, and still serves clients without Origin", async () => {
    expect(await openUserStream({ ALLOWED_ORIGINS: "" }, "https://app.example.com")).toBe(4403);
    expect(await openUserStream({ ALLOWED_ORIGINS: "" }, undefined)).toBe("connected");
  });

  it("a list admits exactly its origins", async () => {
    const vars = { ALLOWED_ORIGINS: "https://a.example, https://b.example" };
    expect(await openUserStream(vars, "https://b.example")).toBe("connected");
    expect(await openUserStream(vars, "https://c.example")).toBe(4403);
  });

  it.each([
    ["*", "https://anything.example", "*"],
    ["", "https://app.example.com", null],
    ["https://a.example,https://b.example", "https://b.example", "https://b.example"],
    ["https://a.example,https://b.example", "https://c.example", null],
  ])('CORS_ORIGINS="%s": a preflight from %s is answered with Access-Control-Allow-Origin %s', async (cors, origin, expected) => {
    const res = await fetchWith({ CORS_ORIGINS: cors }, "/api/v1/alerts", {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "POST" },
    });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(expected);
  });
});
