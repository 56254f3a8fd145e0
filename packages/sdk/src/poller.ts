import type { Scope } from "../../../src/protocol/index";
import { HeraldError, queryString, type Http } from "./http";

/** An event as `GET /api/v1/events` returns it. */
export interface PolledEvent {
  id: string;
  type: string;
  stream: "user" | "org";
  channel?: string;
  scope?: Scope;
  ts: string;
  data: unknown;
}

export interface PollerOptions {
  http: Http;
  minMs: number;
  maxMs: number;
  /** Acknowledge delivered events (`POST /api/v1/events/ack`). */
  ack: boolean;
  random: () => number;
  /** What to poll: the user stream plus channels, grouped by scope (one cursor each). */
  groups: () => { channels: string[]; scope: Scope }[];
  onItems: (items: PolledEvent[]) => void;
  /** After a round; `inbox` when a notification event came. */
  onPolled: (inbox: boolean) => void;
  onError: (err: HeraldError) => void;
}

/**
 * The polling fallback: `GET /api/v1/events?since=<cursor>` per scope group,
 * each page's events handed on and acknowledged, again right away while there
 * is more, then after a delay that starts at `minMs` after events and grows to
 * `maxMs` while nothing comes (jittered).
 */
export class Poller {
  private readonly cursors = new Map<string, string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private abort: AbortController | undefined;
  private running = false;
  private stopped = false;
  private cap: number;
  private finishing = false;
  private rerun = false;

  constructor(private readonly o: PollerOptions) {
    this.cap = o.minMs;
    this.schedule(0);
  }

  /**
   * Sockets work again: one last round that starts after this call (what was
   * committed before the socket went live), then stop and call `done`.
   */
  finish(done: () => void): void {
    this.finishing = true;
    this.onDone = done;
    if (this.running) this.rerun = true;
    else this.schedule(0);
  }

  /** Sockets failed again before the last round ran: keep polling. */
  resume(): void {
    this.finishing = false;
    this.rerun = false;
  }

  private onDone: (() => void) | undefined;

  /** Polling for real (not stopped, not finishing up). */
  get polling(): boolean {
    return !this.stopped && !this.finishing;
  }

  /** Polls now (e.g. a new channel). */
  kick(): void {
    if (!this.running) this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.round();
    }, ms);
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    this.running = true;
    let got = 0;
    let inbox = false;
    try {
      for (const group of this.o.groups()) {
        const key = `${group.channels.join(",")}|${group.scope.dept ?? ""}|${group.scope.queue ?? ""}`;
        for (let more = true; more && !this.stopped; ) {
          this.abort = new AbortController();
          const page = await this.o.http.request<{ items: PolledEvent[]; nextCursor: string; hasMore: boolean }>(
            "GET",
            `/api/v1/events${queryString({
              since: this.cursors.get(key),
              limit: 100,
              channels: group.channels.length ? group.channels.join(",") : undefined,
              dept: group.scope.dept,
              queue: group.scope.queue,
            })}`,
            undefined,
            this.abort.signal,
          );
          if (this.stopped) return;
          this.cursors.set(key, page.nextCursor);
          got += page.items.length;
          if (page.items.some((i) => i.type.startsWith("notification:"))) inbox = true;
          this.o.onItems(page.items);
          if (this.o.ack && page.items.length > 0) {
            await this.o.http.request("POST", "/api/v1/events/ack", { ids: page.items.map((i) => i.id) }, this.abort.signal);
          }
          more = page.hasMore;
        }
      }
      if (!this.stopped) this.o.onPolled(inbox);
      this.cap = got > 0 ? this.o.minMs : Math.min(this.o.maxMs, this.cap * 1.5);
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof HeraldError && err.code !== "NETWORK") this.o.onError(err);
      this.cap = Math.min(this.o.maxMs, this.cap * 1.5);
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (this.finishing) {
      if (this.rerun) {
        this.rerun = false;
        return this.schedule(0);
      }
      this.stop();
      return this.onDone?.();
    }
    // Jittered within [80 %, 100 %] of the cap, never below minMs.
    this.schedule(Math.max(this.o.minMs, this.cap * (0.8 + 0.2 * this.o.random())));
  }
}
