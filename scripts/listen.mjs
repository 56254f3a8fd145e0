#!/usr/bin/env node
// `npm run listen -- --token <JWT> [--stream user|org] [--channels kpi,stats] [--dept d] [--queue q] [--url http://localhost:8787]`
// Prints every frame of a Herald stream, as a browser client would receive it:
// it asks for a single-use ticket, connects with ?ticket=, pings every 30 s and,
// when the socket drops, reconnects with ?since=<last seq> so nothing is missed.
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    token: { type: "string" },
    stream: { type: "string", default: "user" },
    channels: { type: "string" },
    dept: { type: "string" },
    queue: { type: "string" },
    url: { type: "string", default: "http://localhost:8787" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help || !values.token) {
  console.log("usage: npm run listen -- --token <JWT> [--stream user|org] [--channels kpi,stats] [--dept d] [--queue q] [--url http://localhost:8787]");
  process.exit(values.help ? 0 : 2);
}
if (typeof WebSocket === "undefined") {
  console.error("This needs Node 22+ (global WebSocket); run it through npm, which uses the project's Node.");
  process.exit(2);
}

let lastSeq;
async function open() {
  const res = await fetch(`${values.url}/api/v1/realtime/ticket`, {
    method: "POST",
    headers: { Authorization: `Bearer ${values.token}` },
  });
  if (res.status !== 201) {
    console.error(`ticket refused: ${res.status} ${await res.text()}`);
    process.exit(1);
  }
  const { ticket } = await res.json();
  const url = new URL(values.stream === "org" ? "/api/v1/ws/org" : "/api/v1/ws", values.url.replace(/^http/, "ws"));
  url.searchParams.set("ticket", ticket);
  if (lastSeq !== undefined) url.searchParams.set("since", String(lastSeq));
  for (const key of ["channels", "dept", "queue"]) if (values[key]) url.searchParams.set(key, values[key]);
  const ws = new WebSocket(url);
  let heartbeat;
  ws.addEventListener("open", () => {
    heartbeat = setInterval(() => ws.send('{"type":"ping"}'), 30_000);
  });
  ws.addEventListener("message", (ev) => {
    console.log(ev.data);
    const frame = JSON.parse(ev.data);
    if (typeof frame.seq === "number" && frame.type !== "connected" && frame.type !== "resync-required") lastSeq = frame.seq;
    if (frame.type === "connected" || frame.type === "resync-required") lastSeq = Math.max(lastSeq ?? 0, frame.seq);
  });
  ws.addEventListener("close", (ev) => {
    clearInterval(heartbeat);
    console.error(`closed ${ev.code} ${ev.reason}; reconnecting in 1 s from seq ${lastSeq ?? "(start)"}`);
    setTimeout(open, 1_000);
  });
}
await open();
