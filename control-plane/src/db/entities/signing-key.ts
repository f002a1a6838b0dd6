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
  /** Only on rows written before encryption at rest; sealed and cleared at the next start. */
  privateJwk: JWK | null;
  /** The private JWK, sealed (context `signing_keys/<kid>/private_jwk`). */
  sealedPrivateJwk: Buffer | null;
  publicJwk: JWK;
  active: boolean;
  createdAt: Date;
}

export const SigningKeyEntity = new EntitySchema<SigningKeyRow>({
  name: 'SigningKey',
  tableName: 'signing_keys',
  columns: {
    kid: { type: 'text', primary: true },
    privateJwk: { name: 'private_jwk', type: 'jsonb', nullable: true },
    sealedPrivateJwk: { name: 'sealed_private_jwk', type: 'bytea', nullable: true },
    publicJwk: { name: 'public_jwk', type: 'jsonb' },
    active: { type: 'boolean', default: true },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
  },
});
