/**
 * The hub's single alarm, armed for the earliest piece of pending work. The
 * armed time is read once when the hub starts and then kept in memory, so a
 * publish that needs nothing earlier costs no storage call.
 */
export class AlarmClock {
  /** The armed alarm (ms), null when none, undefined until read at start-up. */
  #at: number | null | undefined;

  constructor(
    private readonly ctx: DurableObjectState,
  ) {
    void ctx.blockConcurrencyWhile(async () => {
      this.#at = await ctx.storage.getAlarm();
    });
  }

  /** Makes sure the alarm fires no later than `at`. */
  arm(at: number): void {
    if (this.#at !== null && this.#at !== undefined && this.#at <= at) return;
    const when = Math.max(at, Date.now());
    this.#at = when;
    void this.ctx.storage.setAlarm(when);
  }

  /** Arms for the earliest of `times`; none, no alarm. */
  armEarliest(times: Iterable<number | undefined>): void {
    let earliest: number | undefined;
    for (const t of times) if (t !== undefined && (earliest === undefined || t < earliest)) earliest = t;
    if (earliest !== undefined) this.arm(earliest);
  }

  /** The alarm fired: nothing is armed until the next `arm`. */
  fired(): void {
    this.#at = null;
  }
}
