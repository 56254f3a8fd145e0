import { z } from "@hono/zod-openapi";
import { ROLES } from "../protocol";
import { csvOf, IdString, RoleSchema } from "./common";
import { AvailabilitySchema, Capacity, SkillList, TerritoryList } from "./routing";

export const UserIdParams = z.object({ id: IdString.openapi({ param: { name: "id", in: "path" } }) });

export const UpsertUserBody = z
  .object({
    email: z.email().max(320).nullable().optional(),
    name: z.string().min(1).max(200).nullable().optional(),
    phone: z
      .string()
      .regex(/^\+[1-9][0-9]{6,14}$/, "Use E.164, e.g. +14155550123")
      .nullable()
      .optional(),
    role: RoleSchema.optional(),
    departments: z.array(z.string().min(1).max(64)).max(50).optional(),
    territories: TerritoryList.optional().openapi({ description: "Agent profile: region codes or postal prefixes (routing: territory)" }),
    skills: SkillList.optional().openapi({ description: "Agent profile: alert types the agent handles (routing: skills)" }),
    capacity: Capacity.optional().openapi({ description: "Agent profile: most open alerts routing gives them; null: ROUTING_DEFAULT_CAPACITY" }),
    availability: AvailabilitySchema.optional(),
  })
  .strict()
  .openapi("UpsertUser");

export const UserSchema = z
  .object({
    id: z.string(),
    organizationId: z.string(),
    email: z.string().nullable(),
    name: z.string().nullable(),
    phone: z.string().nullable(),
    role: RoleSchema,
    departments: z.array(z.string()),
    territories: z.array(z.string()),
    skills: z.array(z.string()),
    capacity: z.number().int().nullable(),
    availability: AvailabilitySchema,
    createdAt: z.string(),
    updatedAt: z.string(),
    lastSeenAt: z.string().nullable(),
  })
  .openapi("User");

/** Query of `GET /api/v1/users` (the directory, ordered by name, case-insensitively, then id; unnamed users last). */
export const ListUsersQuery = z.object({
  q: z.string().trim().min(1).max(200).optional().openapi({ description: "Text in the id, name or email (case-insensitive)" }),
  role: csvOf([...ROLES]).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).max(512).optional().openapi({ description: "nextCursor of the previous page" }),
});

export const UserPageSchema = z
  .object({ items: z.array(UserSchema), nextCursor: z.string().nullable() })
  .openapi("UserPage");

export type ListUsersInput = z.infer<typeof ListUsersQuery>;
export type UpsertUserInput = z.infer<typeof UpsertUserBody>;
export type User = z.infer<typeof UserSchema>;
