// Headless Chromium (Debian's, never a downloaded one) and a page server on
// its own loopback port: another origin than the API's, serving a blank HTML
// page and the SDK's browser bundle as an ES module.
import fs from "node:fs";
import http from "node:http";
import type net from "node:net";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { ROOT } from "./server";

/** Where Debian's chromium lives (`.ci/run` installs it with apt-get when missing). */
export const CHROMIUM = process.env.HERALD_CHROMIUM ?? "/usr/bin/chromium";
/** The self-contained browser bundle (partysocket inlined) that `npm run build:sdk` writes. */
export const SDK_BUNDLE = path.join(ROOT, "packages/sdk/dist/herald.browser.js");

/** Launches headless Chromium; `--no-sandbox` only when running as root (the sandbox refuses root). */
export function launchChromium(): Promise<Browser> {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: root ? ["--no-sandbox"] : [],
    timeout: 60_000,
  });
}

export interface PageServer {
  /** The page's origin, e.g. http://127.0.0.1:41234: another port, so another origin than the API's. */
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Serves `/` (an empty page with a module script that imports the bundle and
 * exposes it as `window.Herald`) and `/sdk.js` (the built bundle), on
 * `localhost` so it is another origin than the API on `127.0.0.1`.
 */
export async function startPageServer(): Promise<PageServer> {
  const html = `<!doctype html><meta charset="utf-8"><title>herald e2e</title>
<script type="module">import * as Herald from "/sdk.js"; window.Herald = Herald; window.heraldReady = true;</script>`;
  const server = http.createServer((req, res) => {
    if (req.url === "/" || req.url?.startsWith("/?")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    } else if (req.url === "/sdk.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(fs.readFileSync(SDK_BUNDLE));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
