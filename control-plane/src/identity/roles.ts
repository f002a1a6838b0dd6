/**
 * Roles and what each may do: a pure table, so every check reads the same answer. Roles are bound to
 * users (by email) or to groups (as the identity provider names them); a person holds every role bound
 * to them or to any of their groups.
 *
 * @module
 */

export const Role = {
  Owner: 'owner',
  Admin: 'admin',
  Auditor: 'auditor',
  PowerUser: 'power_user',
  Basic: 'basic',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export const ROLES: readonly Role[] = Object.values(Role);

/** Things a role allows on the admin API. */
export const Permission = {
  /** Read the catalog, grants and mesh status. */
  ReadCatalog: 'read_catalog',
  /** Register servers, change grants, mint tokens. */
  ManageCatalog: 'manage_catalog',
  /** Create users, bind roles (owner and admin; only an owner may grant owner). */
  ManageIdentity: 'manage_identity',
  /** Read audit events without their captured bodies. */
  ReadAudit: 'read_audit',
  /** Read captured request and response bodies: the auditor's alone. */
  ReadAuditBodies: 'read_audit_bodies',
  /** Use MCP servers through the mesh (what grants then narrow). */
  UseServers: 'use_servers',
  /** Register own OAuth clients and API keys beyond the basics. */
  ManageOwnClients: 'manage_own_clients',
  /** Rotate the encryption keys that wrap every secret at rest: the owner's alone. */
  ManageKeys: 'manage_keys',
} as const;
export type Permission = (typeof Permission)[keyof typeof Permission];

/** Owners and admins manage everything; only an owner may make another owner (checked by the API). */
const MANAGER: readonly Permission[] = [
  'read_catalog',
  'manage_catalog',
  'manage_identity',
  'read_audit',
  'use_servers',
  'manage_own_clients',
];

const ALLOWS: Record<Role, readonly Permission[]> = {
  owner: [...MANAGER, 'manage_keys'],
  admin: MANAGER,
  // Bodies may hold anything a tool saw; reading them is a separate duty, not a privilege of rank.
  auditor: ['read_catalog', 'read_audit', 'read_audit_bodies'],
  power_user: ['read_catalog', 'use_servers', 'manage_own_clients'],
  basic: ['use_servers'],
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * Whether any of `roles` allows `permission`.
 *
 * @example
 * allows(['auditor'], 'read_audit_bodies') // true
 * allows(['owner'], 'read_audit_bodies') // false
 */
export function allows(roles: readonly Role[], permission: Permission): boolean {
  return roles.some((r) => ALLOWS[r].includes(permission));
}

/** Every permission any of `roles` grants, without repeats. */
export function permissionsOf(roles: readonly Role[]): Permission[] {
  return [...new Set(roles.flatMap((r) => ALLOWS[r]))];
}

export interface RoleBinding {
  kind: 'user' | 'group';
  principal: string;
  role: Role;
}

/** The roles a person holds: those bound to their email (case-insensitive) or to any of their groups. */
export function rolesOf(email: string, groups: readonly string[], bindings: readonly RoleBinding[]): Role[] {
  const e = email.toLowerCase();
  const g = new Set(groups);
  const held = new Set<Role>();
  for (const b of bindings) {
    if ((b.kind === 'user' && b.principal.toLowerCase() === e) || (b.kind === 'group' && g.has(b.principal)))
      held.add(b.role);
  }
  return ROLES.filter((r) => held.has(r));
}
