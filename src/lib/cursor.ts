import { z } from "zod";
import { badRequest, ErrorCode } from "../errors";

/** Position after the last item of a page ordered by (createdAt desc, id desc). */
export interface Cursor {
  createdAt: number;
  id: string;
}

const CursorSchema = z.object({ t: z.number().int().nonnegative(), i: z.string().min(1).max(64) });

/** Opaque to clients: base64url of a small JSON object. */
export function encodeCursor(c: Cursor): string {
  const bytes = new TextEncoder().encode(JSON.stringify({ t: c.createdAt, i: c.id }));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes a cursor from a client; anything that is not one of ours is 400 `INVALID_CURSOR`. */
export function decodeCursor(raw: string): Cursor {
  try {
    const b64 = raw.replaceAll("-", "+").replaceAll("_", "/");
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const json = new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
    const parsed = CursorSchema.parse(JSON.parse(json));
    return { createdAt: parsed.t, id: parsed.i };
  } catch {
    throw badRequest(ErrorCode.INVALID_CURSOR, "cursor is not a nextCursor this API returned");
  }
}
