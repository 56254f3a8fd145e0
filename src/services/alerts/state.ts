import type { AlertStatus } from "../../schemas/alerts";

/** The lifecycle's edges are the protocol's (src/protocol/lifecycle.ts): clients offer the same moves the server allows. */
export { canTransition, CONVERTIBLE_FROM, STATUS_TRANSITIONS } from "../../protocol";

/**
 * Statuses that count as a person having responded to the alert: the first
 * move into one of them sets `acknowledgedAt` (the basis of time-to-acknowledge).
 */
export const ACKNOWLEDGING: readonly AlertStatus[] = ["ACKNOWLEDGED", "IN_PROGRESS", "RESOLVED", "CONVERTED"];
