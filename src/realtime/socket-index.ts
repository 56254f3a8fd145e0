import type { Stream } from "../protocol";
import type { Role } from "../types";

/**
 * Per-socket state, kept with `serializeAttachment` so it survives
 * hibernation. Ids and small fields only (the platform caps attachments at
 * 2 KiB); subscriptions and the event log live in the hub's SQLite storage.
 */
export interface Attachment {
  /** Connection id. */
  cid: string;
  uid: string;
  org: string;
  role: Role;
  stream: Stream;
  /** Connected at (ms). */
  at: number;
  /** Token expiry (ms): the socket is closed with 4001 then. */
  exp: number;
  /** Last client frame (ms); pings answered by auto-response are read from the platform. */
  la: number;
}

/** An open socket of this hub with its attachment. */
export interface LiveSocket {
  ws: WebSocket;
  att: Attachment;
}

/** Most connection ids remembered as gone (a close can be reported more than once). */
const GONE_MAX = 10_000;

/**
 * A hub's sockets indexed by connection id and by user, so admission, counts
 * and fan-out never walk `ctx.getWebSockets()` per call. A cache: built from
 * the platform's list (`list`) on the first use after a wake-up, kept in step
 * by `add` and `release`. Attachments are read once per socket and kept in a
 * WeakMap.
 */
export class SocketIndex {
  #attachments = new WeakMap<WebSocket, Attachment>();
  #live: Map<string, LiveSocket> | undefined;
  #byUser = new Map<string, Set<LiveSocket>>();
  /** Connections already released (a close can be reported more than once). */
  #gone = new Set<string>();

  /** @param list the platform's sockets of this hub (`ctx.getWebSockets()`) */
  constructor(private readonly list: () => WebSocket[]) {}

  /** The attachment of a socket this hub accepted, or undefined for any other socket. */
  attachment(ws: WebSocket): Attachment | undefined {
    let att = this.#attachments.get(ws);
    if (!att) {
      const raw = ws.deserializeAttachment() as Attachment | null;
      if (!raw || typeof raw !== "object" || typeof raw.cid !== "string") return undefined;
      att = raw;
      this.#attachments.set(ws, att);
    }
    return att;
  }

  /** Stores a socket's attachment (it survives hibernation). */
  save(ws: WebSocket, att: Attachment): void {
    ws.serializeAttachment(att);
    this.#attachments.set(ws, att);
  }

  /** Indexes a socket just accepted, with its attachment. */
  add(ws: WebSocket, att: Attachment): void {
    this.save(ws, att);
    // Building the index now may already find the socket (the platform lists it once accepted).
    if (!this.#index().has(att.cid)) this.#track({ ws, att });
  }

  /** Takes a connection out of the index; false when it was released already. */
  release(cid: string): boolean {
    if (this.#gone.has(cid)) return false;
    if (this.#gone.size >= GONE_MAX) this.#gone.clear();
    this.#gone.add(cid);
    const s = this.#live?.get(cid);
    if (!s) return true;
    this.#live!.delete(cid);
    const mine = this.#byUser.get(s.att.uid);
    mine?.delete(s);
    if (mine?.size === 0) this.#byUser.delete(s.att.uid);
    return true;
  }

  #index(): Map<string, LiveSocket> {
    if (this.#live) return this.#live;
    this.#live = new Map();
    this.#byUser.clear();
    for (const ws of this.list()) {
      const att = this.attachment(ws);
      if (att && ws.readyState === WebSocket.OPEN && !this.#gone.has(att.cid)) this.#track({ ws, att });
    }
    return this.#live;
  }

  #track(s: LiveSocket): void {
    this.#live!.set(s.att.cid, s);
    let mine = this.#byUser.get(s.att.uid);
    if (!mine) this.#byUser.set(s.att.uid, (mine = new Set()));
    mine.add(s);
  }

  /** Open sockets with their attachments. */
  open(): LiveSocket[] {
    const out: LiveSocket[] = [];
    for (const s of this.#index().values()) if (s.ws.readyState === WebSocket.OPEN) out.push(s);
    return out;
  }

  /**
   * Every indexed socket by connection id, for hot loops (a socket whose
   * close is still being processed is included: send() to it fails quietly).
   */
  all(): ReadonlyMap<string, LiveSocket> {
    return this.#index();
  }

  /** The open socket of a connection id, if any. */
  get(cid: string): LiveSocket | undefined {
    const s = this.#index().get(cid);
    return s && s.ws.readyState === WebSocket.OPEN ? s : undefined;
  }

  /** How many sockets are indexed (a socket whose close is still being processed counts until then). O(1). */
  get size(): number {
    return this.#index().size;
  }

  /** Open sockets of one user, optionally without one connection. O(that user's sockets). */
  userCount(userId: string, excludeCid?: string): number {
    this.#index();
    let n = 0;
    for (const s of this.#byUser.get(userId) ?? []) if (s.att.cid !== excludeCid && s.ws.readyState === WebSocket.OPEN) n++;
    return n;
  }
}
