import { createMiddleware } from "hono/factory";
import { AppError, ErrorCode } from "../errors";
import type { AppEnv } from "../types";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/**
 * Requests that carry a body must send JSON: another media type is 415
 * `UNSUPPORTED_MEDIA_TYPE` and unparsable JSON is 400 `INVALID_JSON`. The
 * parsed body is cached by Hono, so the route's validator reuses it.
 */
export const jsonBody = createMiddleware<AppEnv>(async (c, next) => {
  if (!BODY_METHODS.has(c.req.method) || !c.req.raw.body) return next();
  const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim();
  const length = c.req.header("Content-Length");
  if (length === "0" && !mediaType) return next();
  if (!JSON_MEDIA_TYPE.test(mediaType)) {
    throw new AppError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the body as application/json");
  }
  try {
    await c.req.json();
  } catch {
    throw new AppError(400, ErrorCode.INVALID_JSON, "The request body is not valid JSON");
  }
  await next();
});
