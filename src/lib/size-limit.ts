import { AppError, ErrorCode } from "../errors";
import { jsonByteLength } from "./json";

/**
 * 413 `DATA_TOO_LARGE` (with the size and the limit in `details`) unless
 * `data` serializes to at most `limit` bytes of UTF-8 JSON.
 */
export function assertDataSize(data: unknown, limit: number): void {
  const bytes = jsonByteLength(data);
  if (bytes > limit) throw new AppError(413, ErrorCode.DATA_TOO_LARGE, `data is ${bytes} bytes; the limit is ${limit}`, { bytes, limit });
}
