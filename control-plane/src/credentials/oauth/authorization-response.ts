/**
 * Checks the authorization server's redirect back to the control plane before any code is
 * exchanged: the state must be the one we sent, and when the server supports RFC 9207 (or sends
 * `iss` anyway) the `iss` parameter must name exactly the issuer we started with, which defeats
 * mix-up attacks between authorization servers. Pure; PKCE values come from `pkce()`.
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A PKCE S256 pair (RFC 7636): the verifier stays with us, the challenge goes in the URL. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export type CallbackCheck =
  | { ok: true; code: string }
  | {
      ok: false;
      error: 'state_mismatch' | 'iss_missing' | 'iss_mismatch' | 'no_code' | 'denied';
      detail: string;
    };

const same = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export function checkCallback(
  params: URLSearchParams,
  expected: { state: string; issuer: string; issParameterSupported: boolean },
): CallbackCheck {
  const state = params.get('state') ?? '';
  if (!same(state, expected.state))
    return { ok: false, error: 'state_mismatch', detail: 'the state does not match' };
  const iss = params.get('iss');
  if (iss === null && expected.issParameterSupported)
    return {
      ok: false,
      error: 'iss_missing',
      detail: 'the authorization server announced RFC 9207 but sent no iss',
    };
  if (iss !== null && iss !== expected.issuer)
    return { ok: false, error: 'iss_mismatch', detail: `iss "${iss}" is not the expected issuer` };
  const error = params.get('error');
  if (error) return { ok: false, error: 'denied', detail: `the authorization server answered ${error}` };
  const code = params.get('code');
  if (!code) return { ok: false, error: 'no_code', detail: 'the callback carries no code' };
  return { ok: true, code };
}
