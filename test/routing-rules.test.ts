import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../src/config";
import { AppError } from "../src/errors";

describe("routing configuration", () => {
  it("defaults MAX_ROUTING_RULES, ROUTING_DEFAULT_CAPACITY, ROUTING_RESERVATION_SECONDS and ROUTING_MAX_ESCALATION_LEVELS", () => {
    const config = getConfig({
      ...env,
      MAX_ROUTING_RULES: "",
      ROUTING_DEFAULT_CAPACITY: "",
      ROUTING_RESERVATION_SECONDS: "",
      ROUTING_MAX_ESCALATION_LEVELS: "",
    });
    expect(config.routing).toEqual({ maxRules: 50, defaultCapacity: 25, reservationSeconds: 60, maxEscalationLevels: 5 });
    expect(getConfig({ ...env, MAX_ROUTING_RULES: "7", ROUTING_MAX_ESCALATION_LEVELS: "2" }).routing).toMatchObject({ maxRules: 7, maxEscalationLevels: 2 });
  });

  it.each([
    ["MAX_ROUTING_RULES", "0"],
    ["MAX_ROUTING_RULES", "501"],
    ["ROUTING_DEFAULT_CAPACITY", "0"],
    ["ROUTING_DEFAULT_CAPACITY", "10001"],
    ["ROUTING_RESERVATION_SECONDS", "4"],
    ["ROUTING_RESERVATION_SECONDS", "3601"],
    ["ROUTING_MAX_ESCALATION_LEVELS", "0"],
    ["ROUTING_MAX_ESCALATION_LEVELS", "21"],
    ["ROUTING_MAX_ESCALATION_LEVELS", "two"],
  ])("refuses %s=%s (CONFIG_INVALID)", (name, value) => {
    let thrown: unknown;
    try {
      getConfig({ ...env, [name]: value });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect((thrown as AppError).code).toBe("CONFIG_INVALID");
  });
});
