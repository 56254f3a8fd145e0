/**
 * Checks on parsed request JSON before anything else touches it: free JSON
 * fields (alert `data`, broadcast `data`, notification `data`, and with them
 * webhook payloads) are stored, hashed for idempotency, serialized to hubs and
 * re-read by the sweep, all of which recurse; and object keys that name
 * JavaScript prototype machinery are dropped by the schema layer instead of
 * being kept. Both are refused here, with the path, before a byte is stored.
 */

/** Keys refused anywhere in a request body: JavaScript treats them specially, so they would not round-trip. */
export const FORBIDDEN_JSON_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** One problem found, shaped like a validation issue (`details.issues[]`). */
export interface JsonShapeIssue {
  path: string;
  code: "too_deep" | "forbidden_key";
  message: string;
}

const pathOf = (segments: readonly (string | number)[]) => segments.join(".");

/**
 * The first problems of a parsed JSON body (at most `maxIssues`): an object or
 * array nested deeper than `maxDepth` levels below the body (a top-level
 * field such as `data` is level 1, so `data` itself may nest `maxDepth`
 * levels counting itself), or a forbidden key. Iterative, and it never
 * descends past `maxDepth + 1`, so it is safe on any body JSON.parse accepted.
 */
export function jsonShapeIssues(body: unknown, maxDepth: number, maxIssues = 10): JsonShapeIssue[] {
  const issues: JsonShapeIssue[] = [];
  if (body === null || typeof body !== "object") return issues;
  // [value, its level, its path]; the body itself is level 0. Children are
  // pushed in reverse so a depth-first walk meets them in document order.
  const stack: [unknown, number, (string | number)[]][] = [[body, 0, []]];
  while (stack.length > 0 && issues.length < maxIssues) {
    const [value, level, path] = stack.pop()!;
    if (level > maxDepth) {
      issues.push({ path: pathOf(path), code: "too_deep", message: `Objects and arrays may nest at most ${maxDepth} levels (MAX_JSON_DEPTH)` });
      continue;
    }
    const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value as object);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      if (typeof key === "string" && FORBIDDEN_JSON_KEYS.has(key)) {
        issues.push({ path: pathOf([...path, key]), code: "forbidden_key", message: `The key "${key}" is not allowed in JSON bodies` });
      } else if (child !== null && typeof child === "object") {
        stack.push([child, level + 1, [...path, key]]);
      }
    }
  }
  return issues.slice(0, maxIssues);
}
