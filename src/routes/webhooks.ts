// PLACEHOLDER (replaced by the webhooks work in progress this session).
import { createRouter } from "../lib/router";

export const webhooksRouter = createRouter();
