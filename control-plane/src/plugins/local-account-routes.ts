/**
 * Admin routes for local accounts: create one (with a password, or with a one-time setup link shown
 * once), delete one, and change one's own password. Only an owner may create or delete an account
 * whose email holds the owner role, since whoever sets its password would sign in as that owner.
 *
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TesseraError } from '../errors.ts';
import { parseNewAccount } from '../identity/account-input.ts';
import type { LocalAccounts } from '../identity/local-accounts.ts';
import type { LoginThrottle } from '../identity/login-throttle.ts';
import { MAX_PASSWORD_BYTES } from '../identity/password-hash.ts';
import { passwordProblem } from '../identity/password-policy.ts';
import { rolesOf } from '../identity/roles.ts';
import type { UserStore } from '../identity/user-store.ts';
import { principalOf } from './admin-auth.ts';

export interface LocalAccountRoutesOptions {
  users: UserStore;
  accounts: LocalAccounts;
  throttle: LoginThrottle;
  /** Whether local accounts can sign in at all (`TESSERA_LOCAL_ACCOUNTS`). */
  enabled: boolean;
  /** The public URL, for setup links. */
  publicUrl: string;
}

/** The link that sets an account's first password. */
export const setupUrl = (publicUrl: string, token: string): string =>
  `${publicUrl}/account/setup?token=${token}`;

function parsePasswordChange(input: unknown): { current: string; next: unknown } {
  const bad = (m: string) => new TesseraError('TESSERA_INVALID_ARGUMENT', m);
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw bad('the body must be {"currentPassword", "newPassword"}');
  const b = input as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!['currentPassword', 'newPassword'].includes(k)) throw bad(`unknown field "${k}"`);
  }
  if (
    typeof b.currentPassword !== 'string' ||
    !b.currentPassword ||
    Buffer.byteLength(b.currentPassword) > MAX_PASSWORD_BYTES
  )
    throw bad('"currentPassword" must be your current password');
  return { current: b.currentPassword, next: b.newPassword };
}

export function registerLocalAccountRoutes(app: FastifyInstance, o: LocalAccountRoutesOptions): void {
  const ownerOnlyFor = async (req: FastifyRequest, email: string, what: string) => {
    if (principalOf(req).roles.includes('owner')) return;
    if (rolesOf(email, [], await o.users.bindings()).includes('owner'))
      throw new TesseraError('TESSERA_PERMISSION_DENIED', `only an owner may ${what} an owner's account`);
  };

  app.post('/api/v1/users', async (req, reply) => {
    const account = parseNewAccount(req.body);
    if (!o.enabled)
      throw new TesseraError(
        'TESSERA_CONFLICT',
        'local accounts are turned off (TESSERA_LOCAL_ACCOUNTS=false); nobody could sign in with one',
      );
    await ownerOnlyFor(req, account.email, 'create');
    const created = await o.accounts.create(account);
    return reply.code(201).send({
      id: created.id,
      idp: 'local',
      email: created.email,
      name: created.name,
      ...(created.setupToken && {
        setupUrl: setupUrl(o.publicUrl, created.setupToken),
        setupExpiresAt: created.setupExpiresAt!.toISOString(),
      }),
    });
  });

  app.delete('/api/v1/users/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const user = await o.users.get(id);
    if (!user) throw new TesseraError('TESSERA_NOT_FOUND', `no user with the id "${id}"`);
    await ownerOnlyFor(req, user.email, 'delete');
    const outcome = await o.accounts.remove(id);
    if (outcome === 'absent') throw new TesseraError('TESSERA_NOT_FOUND', `no user with the id "${id}"`);
    if (outcome === 'not_local')
      throw new TesseraError(
        'TESSERA_CONFLICT',
        `${user.email} signs in through "${user.idp}", which decides whether the account exists; revoke its role bindings instead`,
      );
    if (outcome === 'last_owner')
      throw new TesseraError(
        'TESSERA_CONFLICT',
        `${user.email} holds the last owner binding; grant the owner role to someone else first`,
      );
    return reply.code(204).send();
  });

  app.post('/api/v1/me/password', async (req, reply) => {
    const p = principalOf(req);
    const { current, next } = parsePasswordChange(req.body);
    if (!p.userId)
      throw new TesseraError(
        'TESSERA_CONFLICT',
        'the bootstrap token is no account with a password; sign in with a local account',
      );
    const problem = passwordProblem(next, p.email);
    if (problem) throw new TesseraError('TESSERA_INVALID_ARGUMENT', `"newPassword": ${problem}`);
    if (!o.throttle.allowed(p.email, req.ip))
      throw new TesseraError('TESSERA_RATE_LIMITED', 'too many wrong passwords; try again in a few minutes');
    const outcome = await o.accounts.changePassword(p.userId, current, next as string);
    if (outcome === 'not_local')
      throw new TesseraError(
        'TESSERA_CONFLICT',
        'your account has no local password; your identity provider manages it',
      );
    if (outcome === 'wrong') {
      o.throttle.failed(p.email, req.ip);
      throw new TesseraError('TESSERA_PERMISSION_DENIED', 'the current password is wrong');
    }
    o.throttle.succeeded(p.email);
    return reply.code(204).send();
  });
}
