import { createMiddleware } from "hono/factory";
import { getConfig } from "../config";
import { AppError, ErrorCode } from "../errors";
import { jsonShapeIssues } from "../lib/free-json";
import type { AppEnv } from "../types";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * For routes that take a JSON body (`defineRoute` adds it to every one): no
 * body or another media type is 415 `UNSUPPORTED_MEDIA_TYPE`, unparsable JSON
 * (an empty body included) is 400 `INVALID_JSON`. Without it a request with no
 * Content-Type would reach the validator as `{}` and, where every field is
 * optional, write a blank record. The parsed body is cached by Hono, so the
 * route's validator reuses it.
 */
export const requireJsonBody = createMiddleware<AppEnv>(async (c, next) => {
  const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim();
  if (!mediaType) {
    throw new AppError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "This route takes a JSON body: send it with Content-Type: application/json");
  }
  if (!JSON_MEDIA_TYPE.test(mediaType)) {
    throw new AppError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the body as application/json");
  }
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new AppError(400, ErrorCode.INVALID_JSON, "The request body is not valid JSON");
  }
  // Before any validator, hash or store touches it (see lib/free-json.ts).
  const issues = jsonShapeIssues(body, getConfig(c.env).maxJsonDepth);
  if (issues.length > 0) throw new AppError(400, ErrorCode.VALIDATION_FAILED, "Invalid body", { target: "json", issues });
  await next();
});
