/**
 * Replaces a harness proxy's policy the way a new version from the control plane does, so that tests can
 * change what is allowed while streams are open.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { GrantSchema, type RuleSchema, ServerPolicySchema } from '@tessera/api/mesh/v1/config';
import { translatePolicy } from '../../src/ir/translate.ts';
import type { Harness } from './harness.ts';

let version = 1;

/** Grants `users` the harness's server `demo`, with `rules`, as the next policy version. */
export function applyPolicy(
  h: Harness,
  users: string[],
  rules: MessageInitShape<typeof RuleSchema>[] = [],
): void {
  const grant = create(GrantSchema, { users });
  const spec = create(ServerPolicySchema, { server: 'demo', grants: [grant], rules });
  h.store.apply({ kind: 'policy', value: translatePolicy(spec, 'demo') }, `v${++version}`, 'n3');
}
