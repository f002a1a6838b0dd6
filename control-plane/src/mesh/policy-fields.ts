/**
 * Translates a server's stored policy (rules, rate limits, filters, body capture) into the fields of
 * the `ServerPolicy` resource. Pure; order is kept (rules and filters are evaluated in order).
 *
 * The filter HMAC secrets travel in the pushed resource, over the authenticated mesh stream, because
 * the proxy signs with them; at rest they are sealed (`catalog/filter-secrets.ts`), and opened only to
 * build this resource.
 *
 * @module
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ServerPolicySchema } from '@tessera/api/mesh/v1/config';
import type { PolicyInput } from '../catalog/policy-input.ts';

type PolicyInit = MessageInitShape<typeof ServerPolicySchema>;

export function policyFields(
  p: Partial<PolicyInput>,
): Pick<PolicyInit, 'rules' | 'rateLimits' | 'filters' | 'auditBodies'> {
  const limits = p.rateLimits ?? {};
  return {
    rules: (p.rules ?? []).map((r) => ({ ...r, principals: r.principals })),
    rateLimits:
      limits.perUser || limits.perTool ? { perUser: limits.perUser, perTool: limits.perTool } : undefined,
    filters: (p.filters ?? []).map((f) => ({ ...f })),
    auditBodies: p.auditBodies?.enabled ? { enabled: true, maxBytes: p.auditBodies.maxBytes } : undefined,
  };
}
