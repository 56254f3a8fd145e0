#!/usr/bin/env node
// `npm run token -- --sub u1 --org acme --role admin [--email e] [--name n] [--ttl 3600]`
// prints an HS256 JWT signed with JWT_SECRET from .dev.vars, for local curl calls.
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { loadDevVars } from "./dev-vars.mjs";

const ROLES = ["admin", "agent", "member", "service"];
const { values } = parseArgs({
  options: {
    sub: { type: "string", default: "u1" },
    org: { type: "string", default: "acme" },
    role: { type: "string", default: "admin" },
    email: { type: "string" },
    name: { type: "string" },
    ttl: { type: "string", default: "3600" },
    iss: { type: "string" },
    aud: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(`Prints a dev JWT signed with JWT_SECRET from .dev.vars.
  --sub <id>       user id (default u1)
  --org <id>       organization id (default acme)
  --role <role>    admin | agent | member | service (default admin)
  --email <addr>   optional email claim
  --name <name>    optional name claim
  --ttl <seconds>  lifetime (default 3600)
  --iss, --aud     issuer / audience (default: JWT_ISSUER / JWT_AUDIENCE from .dev.vars)`);
  process.exit(0);
}
if (!ROLES.includes(values.role)) {
  console.error(`--role must be one of ${ROLES.join(", ")}`);
  process.exit(2);
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) {
  console.error("--ttl must be a positive number of seconds");
  process.exit(2);
}
const vars = loadDevVars();
if (!vars.JWT_SECRET) {
  console.error("JWT_SECRET is missing from .dev.vars");
  process.exit(2);
}
const claims = { org: values.org, role: values.role };
if (values.email) claims.email = values.email;
if (values.name) claims.name = values.name;
let jwt = new SignJWT(claims)
  .setProtectedHeader({ alg: "HS256", typ: "JWT" })
  .setSubject(values.sub)
  .setIssuedAt()
  .setExpirationTime(`${ttl}s`);
const issuer = values.iss ?? vars.JWT_ISSUER;
const audience = values.aud ?? vars.JWT_AUDIENCE;
if (issuer) jwt = jwt.setIssuer(issuer);
if (audience) jwt = jwt.setAudience(audience);
console.log(await jwt.sign(new TextEncoder().encode(vars.JWT_SECRET)));
