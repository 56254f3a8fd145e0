// PLACEHOLDER (replaced by the delivery engine work in progress this session).
import { createRouter } from "../lib/router";

export const devRouter = createRouter();
