// A TCP proxy between the clients and the server, on its own loopback port:
// it can drop every connection it carries, refuse WebSocket upgrades (an
// HTTP 503 to the upgrade request, plain HTTP still passes) and allow them
// again, and it logs each HTTP request line it forwards.
import net from "node:net";

/** One HTTP request head the proxy forwarded (or refused). */
export interface ProxiedRequest {
  method: string;
  /** Path and query, e.g. /api/v1/ws?ticket=…&since=3 */
  target: string;
  upgrade: boolean;
  refused: boolean;
}

export interface Proxy {
  readonly port: number;
  readonly url: string;
  /** Request heads seen, in order. */
  readonly log: ProxiedRequest[];
  /** Connections currently open through the proxy. */
  readonly open: number;
  /** Destroys every open connection, both sides (a network drop). */
  dropAll(): void;
  /** While true, WebSocket upgrade requests get 503 and the connection is closed. */
  refuseUpgrades(on: boolean): void;
  close(): Promise<void>;
}

const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/;
const UPGRADE_HEADER = /\r\nupgrade:\s*websocket\s*\r\n/i;

/** Starts a proxy to 127.0.0.1:`targetPort` on a free loopback port. */
export async function startProxy(targetPort: number): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  const log: ProxiedRequest[] = [];
  let refusing = false;

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    // Until an upgrade went through, the client speaks HTTP: read each request head.
    let http = true;
    let head = "";
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", forget);
    upstream.on("error", forget);
    client.on("close", forget);
    upstream.on("close", forget);
    upstream.on("data", (chunk) => {
      if (!client.write(chunk)) upstream.pause();
    });
    client.on("drain", () => upstream.resume());
    upstream.on("drain", () => client.resume());
    // Bytes of a request body still to pass before the next request head.
    let body = 0;
    let refused = false;
    client.on("data", (chunk: Buffer) => {
      if (http) inspect(chunk.toString("latin1"));
      if (refused) return;
      if (!upstream.write(chunk)) client.pause();
    });
    const inspect = (text: string) => {
      while (text.length > 0 && http) {
        if (body > 0) {
          const n = Math.min(body, text.length);
          body -= n;
          text = text.slice(n);
          continue;
        }
        head += text;
        text = "";
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        const headers = head.slice(0, end + 4);
        text = head.slice(end + 4);
        head = "";
        const line = REQUEST_LINE.exec(headers);
        const upgrade = UPGRADE_HEADER.test(headers);
        body = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headers)?.[1] ?? 0);
        if (line) log.push({ method: line[1]!, target: line[2]!, upgrade, refused: upgrade && refusing });
        if (upgrade && refusing) {
          refused = true;
          upstream.removeAllListeners("close");
          upstream.on("error", () => {});
          upstream.destroy();
          sockets.delete(upstream);
          client.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
          return;
        }
        if (upgrade) http = false;
      }
    };
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    log,
    get open() {
      return [...sockets].filter((s) => s.remotePort !== targetPort).length;
    },
    dropAll() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    refuseUpgrades(on: boolean) {
      refusing = on;
    },
    close() {
      for (const s of sockets) s.destroy();
      sockets.clear();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
