/**
 * A token-signing key pair of the control plane (ES256). Public halves reach proxies in their trust
 * bundle; the private half never leaves the control plane.
 *
 * @module
 */
import type { JWK } from 'jose';
import { EntitySchema } from 'typeorm';

export interface SigningKeyRow {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  active: boolean;
  createdAt: Date;
}

export const SigningKeyEntity = new EntitySchema<SigningKeyRow>({
  name: 'SigningKey',
  tableName: 'signing_keys',
  columns: {
    kid: { type: 'text', primary: true },
    privateJwk: { name: 'private_jwk', type: 'jsonb' },
    publicJwk: { name: 'public_jwk', type: 'jsonb' },
    active: { type: 'boolean', default: true },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
  },
});
