import { badRequest, ErrorCode } from "../../errors";

/**
 * In-app notification templates, kept in code. `{{name}}` placeholders are
 * replaced by the request's variables as they are: a rendered title or message
 * is plain text, like every notification title and message. Whatever puts it
 * in HTML escapes it there, once (the email renderer does; so must a client
 * that renders the inbox).
 */
export interface NotificationTemplate {
  type: string;
  title: string;
  message: string;
  actionText?: string;
  /** Variables every render must supply. */
  variables: readonly string[];
}

export const TEMPLATES = {
  "alert.new": {
    type: "alert.new",
    title: "New {{priority}} alert: {{title}}",
    message: "{{subjectName}} — {{alertType}} (confidence {{confidence}})",
    actionText: "Open alert",
    variables: ["priority", "title", "subjectName", "alertType", "confidence"],
  },
  "alert.assigned": {
    type: "alert.assigned",
    title: "Assigned to you: {{title}}",
    message: "{{actorName}} assigned you a {{priority}} alert about {{subjectName}}",
    actionText: "Open alert",
    variables: ["title", "actorName", "priority", "subjectName"],
  },
  "alert.escalated": {
    type: "alert.escalated",
    title: "Escalated to you: {{title}} — not acknowledged by {{previousName}} within {{sla}}",
    message: "A {{priority}} alert about {{subjectName}}, escalated to level {{level}}",
    actionText: "Open alert",
    variables: ["title", "previousName", "sla", "priority", "subjectName", "level"],
  },
  "report.ready": {
    type: "report.ready",
    title: "Your report {{name}} is ready",
    message: "{{rows}} rows, generated {{generatedAt}}",
    actionText: "Download",
    variables: ["name", "rows", "generatedAt"],
  },
  "deal.won": {
    type: "deal.won",
    title: "Deal won: {{account}}",
    message: "{{owner}} closed {{account}} for {{amount}}",
    actionText: "View deal",
    variables: ["account", "owner", "amount"],
  },
} as const satisfies Record<string, NotificationTemplate>;

export type TemplateKey = keyof typeof TEMPLATES;

function interpolate(text: string, variables: Record<string, string | number | boolean>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_m, name: string) => String(variables[name] ?? ""));
}

/**
 * Renders a template. Unknown key → 400 `UNKNOWN_TEMPLATE`; a missing
 * variable → 400 `VALIDATION_FAILED` naming it.
 */
export function renderTemplate(
  key: string,
  variables: Record<string, string | number | boolean>,
): { type: string; title: string; message: string; actionText?: string } {
  const template = (TEMPLATES as Record<string, NotificationTemplate>)[key];
  if (!template) {
    throw badRequest(ErrorCode.UNKNOWN_TEMPLATE, `No template ${key}; known: ${Object.keys(TEMPLATES).join(", ")}`);
  }
  const missing = template.variables.filter((v) => variables[v] === undefined);
  if (missing.length > 0) {
    throw badRequest(ErrorCode.VALIDATION_FAILED, `Template ${key} needs: ${missing.join(", ")}`, {
      target: "json",
      issues: missing.map((v) => ({ path: `variables.${v}`, code: "missing", message: "Required by the template" })),
    });
  }
  return {
    type: template.type,
    title: interpolate(template.title, variables),
    message: interpolate(template.message, variables),
    ...(template.actionText !== undefined && { actionText: template.actionText }),
  };
}
