import { useEffect, useRef } from "react";
import { useHerald, useSubscription } from "@herald/sdk/react";
import type { HeraldError } from "@herald/sdk";

/**
 * `useSubscription`, plus `onReady` once the server acked the subscription.
 * A page that lists state over REST and then follows its changes live reloads
 * the list there: a change between the first load and the subscription
 * (one's own socket coming online, say) would otherwise never show.
 * `channel` undefined: no subscription.
 */
export function useSubscriptionReady(channel: string | undefined, onReady: () => void): HeraldError | undefined {
  const herald = useHerald();
  const refused = useSubscription(channel);
  const latest = useRef(onReady);
  useEffect(() => {
    latest.current = onReady;
  });
  useEffect(() => {
    if (channel === undefined) return;
    let active = true;
    // Joins the subscription useSubscription keeps (same channel, same entry): resolves on the server's ack.
    herald.subscribe(channel).then(
      () => active && latest.current(),
      () => {
        // Refused or unsubscribed: useSubscription reports the refusal.
      },
    );
    return () => {
      active = false;
    };
  }, [herald, channel]);
  return refused;
}
