import type { AlertStatus } from "./enums";

/**
 * The alert lifecycle, shared by the server (which enforces it) and clients
 * (which offer only the moves it allows). `PATCH /alerts/:id/status` may move
 * an alert along these edges only; anything else is 409 `INVALID_TRANSITION`.
 *
 *   PENDING      → ACKNOWLEDGED | IN_PROGRESS | RESOLVED | DISMISSED
 *   ACKNOWLEDGED → IN_PROGRESS | RESOLVED | DISMISSED
 *   IN_PROGRESS  → RESOLVED | DISMISSED
 *   RESOLVED     → IN_PROGRESS            (reopen)
 *   DISMISSED    → PENDING                (restore)
 *   CONVERTED    → nothing                (terminal)
 *
 * CONVERTED is reached only through `POST /alerts/:id/convert`, which records
 * the conversion value; it is allowed from every state but DISMISSED and CONVERTED.
 */
export const STATUS_TRANSITIONS: Readonly<Record<AlertStatus, readonly AlertStatus[]>> = {
  PENDING: ["ACKNOWLEDGED", "IN_PROGRESS", "RESOLVED", "DISMISSED"],
  ACKNOWLEDGED: ["IN_PROGRESS", "RESOLVED", "DISMISSED"],
  IN_PROGRESS: ["RESOLVED", "DISMISSED"],
  RESOLVED: ["IN_PROGRESS"],
  DISMISSED: ["PENDING"],
  CONVERTED: [],
};

/** Statuses `POST /alerts/:id/convert` accepts. */
export const CONVERTIBLE_FROM: readonly AlertStatus[] = ["PENDING", "ACKNOWLEDGED", "IN_PROGRESS", "RESOLVED"];

/** Whether `PATCH …/status` may move an alert from `from` to `to`. */
export function canTransition(from: AlertStatus, to: AlertStatus): boolean {
  return STATUS_TRANSITIONS[from].includes(to);
}
