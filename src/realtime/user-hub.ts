import { appDeps, orgDeps } from "../deps";
import { AppError, RETRY_AFTER_SECONDS } from "../errors";
import { changeNotification, markAll, notificationDeps, unreadCounts } from "../services/notifications";
import { connectionLimit, HubBase, type HubFrame } from "./hub-base";
import type { ConnectRequest, HubEvent, PublishResult } from "./hub-api";
import { orgHub } from "../outbox";
import { NotificationEvents, SocketErrorCode, type ConnectionInfo, type MarkAllReadAck, type MarkReadAck, type UnreadCountFrame } from "../protocol";
import type { Attachment } from "./socket-index";

/**
 * One per (org, user): every socket of every device of that user, and the
 * user stream's log — alerts that concern the user, their notifications.
 * Every event of the stream goes to every socket, so a device sees the
 * stream's seq without gaps.
 */
export class UserHub extends HubBase {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, "user");
  }

  /** Upgrades admitted but not accepted yet (awaiting the org hub): they count against the limits. */
  #pending = 0;
  /**
   * Orders this hub's count reports to the org hub (calls may arrive out of
   * order): microseconds at start-up, +1 per report, so it also grows across restarts.
   */
  #reportVersion = Date.now() * 1000;
  /** The badge read in flight (see refreshUnread), and whether another change arrived meanwhile. */
  #unreadInFlight: Promise<void> | undefined;
  #unreadAgain = false;

  #nextVersion(): number {
    return ++this.#reportVersion;
  }

  protected async acceptUpgrade({ identity, since }: ConnectRequest): Promise<Response> {
    const { maxConnectionsPerUser } = this.config;
    const taken = this.sockets.open().length + this.#pending;
    if (taken >= maxConnectionsPerUser) {
      throw connectionLimit(`At most ${maxConnectionsPerUser} connections per user`);
    }
    // Reserve the slot before awaiting, so concurrent upgrades see it.
    this.#pending++;
    let admitted = false;
    let accepted = false;
    try {
      // The org hub keeps presence and the org-wide connection count.
      const admission = await orgHub(this.env, identity.orgId).admitUserConnection(identity.userId, taken + 1, this.#nextVersion(), identity);
      // A refusal stored nothing in the org hub: there is no slot to give back.
      if (!admission.ok) throw connectionLimit(admission.reason);
      admitted = true;

      // From here to the 101 nothing awaits: replay and `connected` precede any later publish.
      const { client, server, att } = this.acceptSocket(identity);
      accepted = true;
      const { resumed, replayed } = this.resume(server, att, since);
      this.send(server, this.connectedFrame(att, resumed, replayed, []));
      this.armAlarm(att.exp);
      // The badge right after every (re)connect, so it is never stale.
      this.ctx.waitUntil(this.#sendUnreadCount(server, att));
      return new Response(null, { status: 101, webSocket: client });
    } finally {
      this.#pending--;
      if (admitted && !accepted) {
        // Give the slot back in the org hub's count.
        await orgHub(this.env, identity.orgId)
          .reportUserConnections(identity.userId, this.sockets.open().length + this.#pending, this.#nextVersion())
          .catch((err: unknown) => console.error(`${this.logPrefix} could not release a refused slot:`, err));
      }
    }
  }

  /**
   * Appends events to this user's stream, in order, and sends each to every
   * device: one call per delivery, whatever the number of events (an alert and
   * the notification it caused). Idempotent by event id. With `refreshUnread`
   * the `unread:count` badge follows (see refreshUnread).
   */
  async publishMany(events: HubEvent[], options: { refreshUnread?: boolean } = {}): Promise<PublishResult[]> {
    const sockets = this.sockets.open();
    const results = events.map((event): PublishResult => {
      const { seq, frame, duplicate } = this.append(event);
      if (duplicate) return { seq, delivered: 0, duplicate, latencyMs: 0 };
      let delivered = 0;
      for (const { ws } of sockets) if (this.send(ws, frame)) delivered++;
      return { seq, delivered, duplicate, latencyMs: Math.max(0, Date.now() - event.ts) };
    });
    if (options.refreshUnread) this.ctx.waitUntil(this.refreshUnread());
    return results;
  }

  /** Appends one event and sends it to every device. Idempotent by event id. */
  async publish(event: HubEvent): Promise<PublishResult> {
    return (await this.publishMany([event]))[0]!;
  }

  /**
   * Sends the current `unread:count` (a state frame: not logged, not
   * replayed) to every device, after an inbox change. Reads D1 only while a
   * device is connected (every connect gets the badge anyway), and coalesces:
   * changes arriving while a read is in flight cause one more read, not one each.
   */
  async refreshUnread(): Promise<void> {
    this.#unreadAgain = true;
    if (this.#unreadInFlight) return this.#unreadInFlight;
    // Marked in flight before any work and cleared by the same call, whether it
    // awaits or not (with no socket open it returns at once).
    const done = Promise.withResolvers<void>();
    this.#unreadInFlight = done.promise;
    try {
      while (this.#unreadAgain) {
        this.#unreadAgain = false;
        const sockets = this.sockets.open();
        if (sockets.length === 0) break;
        const text = await this.#unreadFrame(sockets[0]!.att);
        if (text) for (const { ws } of this.sockets.open()) this.send(ws, text);
      }
    } finally {
      this.#unreadInFlight = undefined;
      done.resolve();
    }
  }

  /** The `unread:count` frame of this hub's user, read from D1 (undefined if the read failed: logged). */
  async #unreadFrame(att: Attachment): Promise<string | undefined> {
    try {
      const counts = await unreadCounts((await orgDeps(this.env, att.org)).db, att.org, [att.uid]);
      const frame: UnreadCountFrame = {
        type: NotificationEvents.unreadCount,
        stream: "user",
        ts: new Date().toISOString(),
        data: counts.get(att.uid) ?? { count: 0, unseen: 0 },
      };
      return JSON.stringify(frame);
    } catch (err) {
      console.error(`${this.logPrefix} could not read the unread count:`, err);
      return undefined;
    }
  }

  async #sendUnreadCount(ws: WebSocket, att: Attachment): Promise<void> {
    const text = await this.#unreadFrame(att);
    if (text) this.send(ws, text);
  }

  /** This user's open connections. */
  async connections(): Promise<ConnectionInfo[]> {
    return this.sockets.open().map(({ ws, att }) => ({
      connectionId: att.cid,
      userId: att.uid,
      stream: "user",
      subscriptions: [],
      connectedAt: new Date(att.at).toISOString(),
      lastActivityAt: new Date(this.lastActivity(ws, att)).toISOString(),
    }));
  }

  protected async onFrame(ws: WebSocket, att: Attachment, frame: HubFrame): Promise<void> {
    switch (frame.type) {
      case "subscribe":
      case "unsubscribe":
        this.sendError(ws, SocketErrorCode.UNSUPPORTED, "The user stream has no channels; subscribe on /api/v1/ws/org", frame.ref);
        return;
      case "mark:read":
      case "mark:all:read": {
        // The same service as the REST routes: D1, then the events to every device (this one included).
        const actor = { sub: att.uid, org: att.org, role: att.role };
        try {
          if (frame.type === "mark:read") {
            const n = await changeNotification(await notificationDeps(this.env, actor.org), actor, frame.notificationId, "read");
            this.send(ws, JSON.stringify({ type: "ack", ref: frame.ref, notificationId: frame.notificationId, readAt: n?.readAt ?? null } satisfies MarkReadAck));
          } else {
            const { updated } = await markAll(await notificationDeps(this.env, actor.org), actor, "read");
            this.send(ws, JSON.stringify({ type: "ack", ref: frame.ref, updated } satisfies MarkAllReadAck));
          }
        } catch (err) {
          if (err instanceof AppError && err.status === 404) this.sendError(ws, SocketErrorCode.NOT_FOUND, err.message, frame.ref);
          else if (appDeps(this.env).shards.refused(err, actor.org)) {
            this.sendError(ws, SocketErrorCode.UNAVAILABLE, `Your organization's data is being moved; send it again in ${RETRY_AFTER_SECONDS} s`, frame.ref);
          } else throw err;
        }
        return;
      }
    }
  }

  protected async onDisconnect(_ws: WebSocket, att: Attachment): Promise<void> {
    const remaining = this.sockets.open().filter((s) => s.att.cid !== att.cid).length;
    await orgHub(this.env, att.org).reportUserConnections(att.uid, remaining + this.#pending, this.#nextVersion());
  }
}
