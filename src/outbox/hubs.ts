import { getConfig } from "../config";
import type { OutboundEvent } from "./events";

/** Addresses of the hubs. Names never contain "/" in ids (see IdString), so `${org}/${user}` is unambiguous. */
export const userHubName = (orgId: string, userId: string) => `${orgId}/${userId}`;

/** The user hub of one (org, user): every device's socket and the user stream's log. */
export function userHub(env: Env, orgId: string, userId: string) {
  return env.USER_HUB.getByName(userHubName(orgId, userId));
}

/** The org hub of one org: org-stream sockets, presence, counters. */
export function orgHub(env: Env, orgId: string) {
  return env.ORG_HUB.getByName(orgId);
}

/** What one delivery reached. */
export interface DeliveryReport {
  /** Sockets the event was sent to, over every target stream. */
  reached: number;
  /** The seq the event got in each user stream, and in the org stream. */
  userSeqs: Record<string, number>;
  orgSeq?: number;
}

/** Users whose `unread:count` badge changed: their hubs re-send it (see UserHub.refreshUnread). */
export interface RefreshUnread {
  orgId: string;
  userIds: string[];
}

/**
 * Runs tasks with at most `limit` in flight and returns their results in
 * order; rejects with the first failure (tasks not started yet are not started).
 */
async function runLimited<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < tasks.length) {
      const i = next++;
      try {
        results[i] = await tasks[i]!();
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/**
 * Hands events (of one org) to their hubs in one round: one call per target
 * user hub with that user's events in order, and one call to the org hub
 * (channel events, counters), all in parallel. Throws if any hub fails.
 */
export async function deliverToHubs(env: Env, events: OutboundEvent[], refreshUnread?: RefreshUnread): Promise<DeliveryReport[]> {
  const orgId = events[0]?.orgId ?? refreshUnread?.orgId;
  if (orgId === undefined) return [];
  if (refreshUnread && refreshUnread.orgId !== orgId) throw new Error("deliverToHubs: one org per delivery");
  // The org hub's event shape (HubEvent), checked against its publishMany through the binding's type.
  const hubEvent = (ev: OutboundEvent) => ({
    id: ev.id,
    type: ev.type,
    ts: ev.ts,
    data: ev.data,
    ...(ev.channel && { channel: ev.channel.name, scope: ev.channel.scope }),
  });
  const perUser = new Map<string, OutboundEvent[]>();
  for (const ev of events) {
    for (const uid of new Set(ev.userIds)) {
      let mine = perUser.get(uid);
      if (!mine) perUser.set(uid, (mine = []));
      mine.push(ev);
    }
  }
  const refresh = new Set(refreshUnread?.userIds);
  const userCalls = [...perUser].map(([uid, mine]) => async () => {
    // A user who gets events has the badge refreshed in the same call.
    const results = await userHub(env, orgId, uid).publishMany(
      mine.map(({ id, type, ts, data }) => ({ id, type, ts, data })),
      { refreshUnread: refresh.has(uid) },
    );
    return { uid, mine, results };
  });
  // Badges of users who got no event in this delivery.
  const refreshCalls = [...refresh]
    .filter((uid) => !perUser.has(uid))
    .map((uid) => async () => {
      await userHub(env, orgId, uid).refreshUnread();
      return undefined;
    });
  const orgCall = events.length > 0 ? orgHub(env, orgId).publishMany(events.map((ev) => ({ event: hubEvent(ev), userIds: ev.userIds }))) : Promise.resolve([]);
  // One call per user hub, at most HUB_CALL_CONCURRENCY in flight (an unassigned
  // alert in an org of 1,000 admins is 1,000 calls: docs/NOTIFICATIONS.md).
  const limit = getConfig(env).hubCallConcurrency;
  const [calls, orgResults] = await Promise.all([runLimited([...userCalls, ...refreshCalls], limit), orgCall]);
  const reports = new Map<string, DeliveryReport>(events.map((ev) => [ev.id, { reached: 0, userSeqs: {} }]));
  for (const call of calls) {
    if (!call) continue;
    const { uid, mine, results } = call;
    mine.forEach((ev, i) => {
      const report = reports.get(ev.id)!;
      report.reached += results[i]!.delivered;
      report.userSeqs[uid] = results[i]!.seq;
    });
  }
  events.forEach((ev, i) => {
    const org = orgResults[i];
    if (!org) return;
    const report = reports.get(ev.id)!;
    report.reached += org.delivered;
    report.orgSeq = org.seq;
  });
  return events.map((ev) => reports.get(ev.id)!);
}
