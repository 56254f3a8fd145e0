// The alert API object the two baselines (bench/baseline-socketio, the
// minimal DO in bench/targets/minimal) build from a create body and send to
// sockets: the fields of Herald's alert, nothing persisted. One shape, so
// their frames weigh what Herald's alert does.

/**
 * @param {Record<string, any>} b the create body (alertType and title checked by the caller)
 * @param {{ id: string, org: string, sub: string, now?: string }} who
 */
export function alertObject(b, { id, org, sub, now = new Date().toISOString() }) {
  return {
    id,
    organizationId: org,
    alertType: b.alertType,
    priority: b.priority ?? "MEDIUM",
    status: "PENDING",
    confidence: b.confidence ?? null,
    title: b.title,
    message: b.message ?? null,
    subject: b.subject ?? null,
    data: b.data ?? {},
    assigneeId: b.assigneeId ?? null,
    recipients: b.recipients ?? [],
    modelVersion: b.modelVersion ?? null,
    signalCount: b.signalCount ?? null,
    createdBy: sub,
    createdAt: now,
    updatedAt: now,
    acknowledgedAt: null,
    assignedAt: b.assigneeId ? now : null,
    resolvedAt: null,
    convertedAt: null,
    conversionValue: null,
    conversionType: null,
  };
}
