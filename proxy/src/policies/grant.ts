/**
 * The server-level grant: may this principal use this server at all? Deny unless a grant names the
 * user or one of the user's groups.
 *
 * @module
 */
import type { PolicyIR } from '../ir/proxy-config.ts';
import type { Principal } from './authn.ts';

export type GrantDecision = { allowed: true; rule: string } | { allowed: false; reason: string };

export function decideGrant(principal: Principal, policy: PolicyIR): GrantDecision {
  if (policy.users.has(principal.name)) return { allowed: true, rule: `user:${principal.name}` };
  for (const g of principal.groups) if (policy.groups.has(g)) return { allowed: true, rule: `group:${g}` };
  return { allowed: false, reason: `no grant for "${principal.name}" on this server` };
}
