// axe-core in the page under test. The dashboard's Content-Security-Policy
// allows scripts from its origin only, so the library is evaluated through
// the DevTools protocol (which CSP does not govern) instead of a <script> tag.
import fs from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { ROOT } from "./server";

const AXE_SOURCE = path.join(ROOT, "node_modules/axe-core/axe.min.js");

/** One axe violation, trimmed to what a failure message needs. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: { target: string; html: string; summary: string }[];
}

declare global {
  interface Window {
    axe?: { run(context?: unknown, options?: unknown): Promise<{ violations: any[] }> };
  }
}

/**
 * Runs axe-core (WCAG 2 A/AA and best-practice rules) on the page, or on the
 * elements `include` selects, and returns every violation.
 */
export async function axeScan(page: Page, include?: string): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) {
    await page.evaluate(fs.readFileSync(AXE_SOURCE, "utf8"));
  }
  return page.evaluate(async (include) => {
    const result = await window.axe!.run(include ? { include: [include] } : document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
      resultTypes: ["violations"],
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n: any) => ({ target: String(n.target), html: String(n.html).slice(0, 200), summary: String(n.failureSummary ?? "") })),
    }));
  }, include ?? null);
}

/** The violations whose impact is serious or critical. */
export const blocking = (violations: AxeViolation[]): AxeViolation[] =>
  violations.filter((v) => v.impact === "serious" || v.impact === "critical");

/** A readable listing of violations for a failure message or the log. */
export function describeViolations(where: string, violations: AxeViolation[]): string {
  if (violations.length === 0) return `${where}: no violations`;
  return [
    `${where}: ${violations.length} violation(s)`,
    ...violations.map(
      (v) => `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n${v.nodes.map((n) => `    ${n.target}: ${n.html}\n      ${n.summary.replace(/\n/g, "\n      ")}`).join("\n")}`,
    ),
  ].join("\n");
}
