import { z } from "zod";
import { badRequest, ErrorCode } from "../errors";
import { fromBase64Url, toBase64Url } from "./base64url";

/** Position after the last item of a page ordered by (createdAt desc, id desc). */
export interface Cursor {
  createdAt: number;
  id: string;
}

const CursorSchema = z.object({ t: z.number().int().nonnegative(), i: z.string().min(1).max(64) });

/** Opaque to clients: base64url of a small JSON object. */
export function encodeCursor(c: Cursor): string {
  return toBase64Url(JSON.stringify({ t: c.createdAt, i: c.id }));
}

/** Decodes a cursor from a client; anything that is not one of ours is 400 `INVALID_CURSOR`. */
export function decodeCursor(raw: string): Cursor {
  try {
    const parsed = CursorSchema.parse(JSON.parse(fromBase64Url(raw)));
    return { createdAt: parsed.t, id: parsed.i };
  } catch {
    throw badRequest(ErrorCode.INVALID_CURSOR, "cursor is not a nextCursor this API returned");
  }
}
