import { useEffect, useState } from "react";
import { useEvent, useHerald, useSubscription } from "@herald/sdk/react";
import type { User } from "@herald/sdk";
import { errorMessage } from "./format";

/** A person alerts can be assigned to, with whether they are online now. */
export interface Agent {
  id: string;
  name: string;
  online: boolean;
}

const MAX_PAGES = 5;

/**
 * The org's agents and admins from the directory (admins and services may
 * read it), with presence when `withPresence`, kept live from the `presence`
 * channel; online first, then by name. `enabled: false` loads nothing.
 */
export function useAgents({ enabled = true, withPresence = false }: { enabled?: boolean; withPresence?: boolean } = {}) {
  const herald = useHerald();
  const [users, setUsers] = useState<User[] | undefined>();
  const [online, setOnline] = useState<ReadonlyMap<string, boolean>>(new Map());
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    if (!enabled) return;
    let active = true;
    (async () => {
      const all: User[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const res = await herald.api.users.list({ role: ["agent", "admin"], limit: 100, ...(cursor && { cursor }) });
        all.push(...res.items);
        if (!res.nextCursor) break;
        cursor = res.nextCursor;
      }
      if (active) setUsers(all);
    })().catch((err: unknown) => active && setError(errorMessage(err)));
    if (withPresence) {
      herald.api.realtime.presence().then(
        (res) => active && setOnline(new Map(res.items.map((p) => [p.userId, p.online]))),
        (err: unknown) => active && setError((e) => e ?? `Presence unavailable: ${errorMessage(err)}`),
      );
    }
    return () => {
      active = false;
    };
  }, [herald, enabled, withPresence]);
  useSubscription(enabled && withPresence ? "presence" : undefined);
  const onPresence = (p: { userId: string; online: boolean }) => setOnline((m) => new Map(m).set(p.userId, p.online));
  useEvent("presence:online", onPresence);
  useEvent("presence:offline", onPresence);
  const agents: Agent[] | undefined = users
    ?.map((u) => ({ id: u.id, name: u.name ?? u.email ?? u.id, online: online.get(u.id) ?? false }))
    .sort((a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name));
  return { agents, error, loading: enabled && !users && !error };
}
